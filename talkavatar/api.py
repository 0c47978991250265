"""The public Python API: what the ``talkavatar`` commands do, as functions.

``import talkavatar`` then :func:`track`, :func:`pseudo`, :func:`fit`, :func:`drive_audio`, :func:`render`,
:func:`evaluate` (and :func:`demo`). Each takes paths and one settings dataclass (the one the command resolves
from its flags: :class:`~talkavatar.track.config.TrackConfig`, ...; ``None`` means the defaults), writes what the
command writes, and returns a small frozen result whose ``as_dict()`` is the command's ``--json`` output.

Errors are :class:`~talkavatar.errors.TalkavatarError` subclasses, one line of ``message`` plus a ``tip``:
:class:`~talkavatar.errors.StageFailed` (the command exits 1), :class:`~talkavatar.errors.UsageError` (2),
:class:`~talkavatar.errors.InvalidInput` (3: invalid, stale or too new bundle, unreadable input),
:class:`~talkavatar.errors.MissingDependency` (4). Progress lines go to stderr; pass ``log=`` and ``warn=``
(callables taking one string) to send them elsewhere, e.g. ``log=lambda line: None``.

Units: metres, seconds, pixels; images sRGB. The examples below run as doctests (``tests/test_api.py``), in the
order track, pseudo, fit, drive_audio, render, evaluate, on the shipped samples with tiny settings; ``tmp`` is a
scratch directory (a :class:`pathlib.Path`), and each stage reuses what an earlier example made when it is up to
date.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from talkavatar.audio.config import DriveAudioConfig
from talkavatar.eval.config import EvalConfig
from talkavatar.fit.config import FitConfig
from talkavatar.pseudo.config import PseudoConfig
from talkavatar.render.config import RenderConfig
from talkavatar.runner import StageContext, stderr_log, stderr_warn
from talkavatar.track.config import TrackConfig

if TYPE_CHECKING:  # the stages load torch: they are imported when a function runs, so `import talkavatar` is light
    from talkavatar.audio.stage import DriveAudioResult
    from talkavatar.fit.stage import FitResult
    from talkavatar.pipeline.demo import DemoResult
    from talkavatar.pipeline.evaluate import EvalResult
    from talkavatar.pseudo.stage import PseudoResult
    from talkavatar.render.stage import RenderResult
    from talkavatar.track.stage import TrackResult

Log = Callable[[str], None]
PathLike = str | Path

__all__ = ["track", "pseudo", "fit", "drive_audio", "render", "evaluate", "demo"]


def track(input: PathLike, bundle: PathLike | None = None, settings: TrackConfig | None = None, *,
          device: str | None = None, force: bool = False, log: Log = stderr_log,
          warn: Log = stderr_warn) -> TrackResult:
    """Fit the body model to a photo or video of one person; writes the bundle's ``source/`` and ``track/``.

    ``input``: a photo (JPEG/PNG/WebP/BMP/TIFF) or a video. ``bundle``: the bundle directory (default
    ``<input stem>.avatar`` in the working directory). ``device``: auto, cpu, cuda or cuda:N. An unchanged input
    with unchanged settings is not tracked again (``force=True`` redoes it).

    Returns ``keypoint_error_pct``: the mean distance per part (body, face, left_hand, right_hand) between the fitted
    model's landmarks and MediaPipe's, in % of the person's height in the image (None: part not seen);
    ``mask_iou``: the fitted silhouette against the person mask (0..1); ``frames`` / ``tracked`` counts;
    ``seconds``: wall time.

    Raises StageFailed when nobody is in the picture, InvalidInput for an unreadable file.

    Examples:
        >>> import talkavatar
        >>> from talkavatar.samples import SAMPLE_PHOTO
        >>> tracked = talkavatar.track(SAMPLE_PHOTO, tmp / "astronaut.avatar")
        >>> tracked.frames, tracked.tracked
        (1, 1)
        >>> tracked.keypoint_error_pct["body"] < 5.0 and tracked.mask_iou > 0.8
        True
        >>> sorted(p.name for p in (tmp / "astronaut.avatar" / "track").glob("*.png"))
        ['mask.png', 'overlay.png']
    """
    from talkavatar.track.stage import run_track

    return run_track(Path(input), None if bundle is None else Path(bundle), settings or TrackConfig(),
                     device=device, force=force, log=log, warn=warn)


def pseudo(bundle: PathLike, settings: PseudoConfig | None = None, *, import_videos: Sequence[PathLike] = (),
           export_poses: PathLike | None = None, device: str | None = None, force: bool = False,
           log: Log = stderr_log, warn: Log = stderr_warn) -> PseudoResult:
    """Make pseudo-labels: the tracked person rendered in library poses, expressions and views (``pseudo/``).

    ``bundle`` needs a track stage made from a photo. ``import_videos``: videos of the same person (an external
    generator's output or real footage) re-tracked with the bundle's shape held fixed and added as frames.
    ``export_poses``: a directory for the driving poses as OpenPose/DWPose skeleton frames and an MP4.

    Returns ``frames`` (``imported`` of them from videos), the ``renderer`` used, and
    ``psnr_input_view`` (dB): the photo re-rendered from the completed texture against the photo, over the
    person mask (``input_view_coverage``: the fraction of the mask the render covers, 0..1).

    Examples:
        >>> import talkavatar
        >>> from talkavatar.pseudo.config import PseudoConfig
        >>> labels = talkavatar.pseudo(tmp / "astronaut.avatar", PseudoConfig(frames=4, size=96, uv_res=64))
        >>> labels.frames, labels.imported
        (4, 0)
        >>> labels.psnr_input_view > 14.9
        True
    """
    from talkavatar.pipeline.photo import pseudo_input

    return pseudo_input(Path(bundle), settings or PseudoConfig(), device=device, force=force,
                        export_poses=None if export_poses is None else Path(export_poses),
                        import_videos=[Path(v) for v in import_videos], log=log, warn=warn)


def fit(input: PathLike, bundle: PathLike | None = None, settings: FitConfig | None = None, *,
        device: str | None = None, force: bool = False, resume: bool = False, video: PathLike | None = None,
        holdout: float | None = None, log: Log = stderr_log, warn: Log = stderr_warn,
        show_progress: bool = False) -> FitResult:
    """Learn the Gaussian avatar (``fit/``) from the photo (or video) and its pseudo-labels.

    ``input``: a bundle directory, or a photo or a video of the person: then ``bundle`` (default
    ``<input stem>.avatar``) gets the track and pseudo stages first when they are missing or stale (a photo is
    tracked on the CPU). A video's frames are tracked with one body shape and smooth poses; frames chosen to cover
    its views, poses and expressions become photometric labels, and its first tracked frame the photo. ``video``:
    a clip to add to a photo the same way (tracked with the photo's body shape). ``holdout``: the fraction of the
    clip, at its end, kept out of tracking and fitting for ``talkavatar eval --held-out`` (default 0.1).
    ``settings.preset``: tiny (CPU, about a minute), fast (GPU) or quality. ``resume``: continue from the
    checkpoint an interrupted fit left.

    Returns ``metrics``: ``input_view`` (``masked_psnr_db`` in dB, ``masked_ssim`` 0..1: the avatar rendered in
    the photo's view against the photo, inside the person mask), ``novel_max_hole_fraction`` and
    ``novel_max_floater_fraction`` (0..1, in new views and poses), ``gaussians`` (count), ``backend`` (the
    rasterizer that ran); ``stage_seconds``: wall seconds of each stage that ran.

    Writes ``fit/avatar.safetensors``: N Gaussians bound to the rig's triangles (per Gaussian: offsets [N, 3] m,
    rgb [N, 3] linear 0..1, log_scales [N, 3], quats [N, 4] wxyz, opacity_logit [N]) and the mesh's vertex offsets
    [V, 3] m; ``fit/rig.safetensors`` (the personal rig) and ``fit/preview.png``.

    Examples:
        >>> import talkavatar
        >>> from talkavatar.fit.config import FitConfig
        >>> from talkavatar.samples import SAMPLE_PHOTO
        >>> avatar = talkavatar.fit(SAMPLE_PHOTO, tmp / "astronaut.avatar", FitConfig(preset="tiny", iters=20))
        >>> avatar.metrics["input_view"]["masked_psnr_db"] > 15.0
        True
        >>> avatar.metrics["backend"]
        'reference'
    """
    from talkavatar.pipeline.photo import fit_input

    return fit_input(Path(input), None if bundle is None else Path(bundle), settings or FitConfig(),
                     device=device, force=force, resume=resume, video=None if video is None else Path(video),
                     holdout=holdout, log=log, warn=warn, show_progress=show_progress)


def drive_audio(audio: PathLike, output: PathLike | None = None, settings: DriveAudioConfig | None = None, *,
                transcript: str | None = None, force: bool = False, log: Log = stderr_log,
                warn: Log = stderr_warn) -> DriveAudioResult:
    """Turn speech into talking motion (lips, face, head, blinks, gestures) and write it to ``output``.

    ``audio``: wav, flac, mp3, ogg or m4a, any rate. ``output``: default ``<audio stem>.motion.safetensors`` (or
    ``.csv`` with ``settings.format="arkit-csv"``) in the working directory. ``transcript``: the words said
    (forced alignment instead of phone recognition). An output made from the same audio, transcript and settings is
    not made again (``force=True`` redoes it). The motion has T frames at ``settings.fps`` per second: joint
    rotations [T, 55, 3] (axis-angle, radians), root translation [T, 3] (m) and the 52 ARKit weights [T, 52]
    (0..1), with a reference to the audio (path, sha256) for render to mux.

    Returns ``frames``, ``seconds`` of speech, ``lip_sync`` ("alignment" or "recognition"), ``gestures`` (the
    clips placed), ``realtime_factor`` (seconds of speech per second of work) and ``skipped`` (it was up to date).

    Examples:
        >>> import talkavatar
        >>> from talkavatar.samples import SAMPLE_SPEECH, SAMPLE_TRANSCRIPT
        >>> motion = talkavatar.drive_audio(SAMPLE_SPEECH, tmp / "speech.motion.safetensors",
        ...                                 transcript=SAMPLE_TRANSCRIPT.read_text())
        >>> motion.lip_sync, motion.fps, motion.frames == round(motion.seconds * 30)
        ('alignment', 30.0, True)
    """
    from talkavatar.audio.stage import run_drive_audio

    return run_drive_audio(Path(audio), None if output is None else Path(output), settings or DriveAudioConfig(),
                           StageContext(None, log, warn), transcript=transcript, force=force)


def render(bundle: PathLike, *, audio: PathLike | None = None, motion: PathLike | None = None,
           output: PathLike | None = None, settings: RenderConfig | None = None,
           drive: DriveAudioConfig | None = None, transcript: str | None = None, export_ply: PathLike | None = None,
           device: str | None = None, force: bool = False, log: Log = stderr_log,
           warn: Log = stderr_warn) -> RenderResult:
    """Render the avatar of ``bundle`` speaking ``audio`` or performing ``motion`` to MP4, WebM or PNG frames.

    ``audio``: speech (drive-audio makes the motion with ``drive``'s settings at the render's fps; the sound is
    muxed in). ``motion``: a ``.motion.safetensors`` file or a Live Link Face ARKit CSV (with the sound it names,
    when present). ``output``: the file (.mp4, .webm) or PNG folder (default ``<audio or motion stem>.mp4``).
    ``export_ply``: also write the first frame as a 3DGS PLY file. A video made from the same bundle, inputs, settings
    and device type is not made again (``force=True`` redoes it).

    Returns ``output``, ``frames`` at ``fps``, ``width`` x ``height`` px, ``seconds`` of video, the ``backend``
    that rasterized, ``timings`` (seconds per phase) and ``skipped`` (it was up to date).

    Examples:
        >>> import talkavatar
        >>> from talkavatar.render.config import RenderConfig
        >>> clip = talkavatar.render(tmp / "astronaut.avatar", motion=tmp / "speech.motion.safetensors",
        ...                          output=tmp / "talk.mp4", settings=RenderConfig(width=128, height=128, fps=10,
        ...                          duration=1.0, camera="input"))
        >>> clip.frames, clip.width, clip.audio.name
        (10, 128, 'speech.wav')
    """
    from talkavatar.pipeline.speech import render_input

    return render_input(Path(bundle), settings or RenderConfig(), audio=None if audio is None else Path(audio),
                        motion=None if motion is None else Path(motion), output=None if output is None else Path(output),
                        export_ply=None if export_ply is None else Path(export_ply), drive=drive, transcript=transcript,
                        device=device, force=force, log=log, warn=warn)


def evaluate(bundle: PathLike | None = None, *, video: PathLike | None = None, render: PathLike | None = None,
             audio: PathLike | None = None, photo: PathLike | None = None, motion: PathLike | None = None,
             report: PathLike | None = None, settings: EvalConfig | None = None, device: str | None = None,
             log: Log = stderr_log) -> EvalResult:
    """Measure an avatar: self-reenactment (``video``) or a rendered clip (``render``), one of them.

    ``video``: a reference video of the avatar's person; the avatar of ``bundle`` replays it (tracked with the
    shape held fixed) and is compared inside the person mask: PSNR (dB), SSIM, L1, perceptual distance.
    ``render``: a clip `talkavatar render` made; measured: face identity against ``photo`` (dlib), control accuracy
    against ``motion`` (needs ``bundle``; landmark error in % of body height) and lip sync against ``audio`` (else
    the clip's own sound; Pearson correlation of mouth opening and speech envelope). ``report``: a folder for PNG
    plots and a contact sheet.

    Returns ``summary`` (the command's ``--json`` document), ``report`` (files written) and ``measured`` (the
    per-frame figures: for T frames, e.g. ``measured.opening`` [T] mouth opening, ``measured.envelope`` [F] speech
    envelope at 100/s, or a reenactment's ``measured.scores.psnr`` [T] dB).

    Examples:
        >>> import talkavatar
        >>> from talkavatar.samples import SAMPLE_SPEECH
        >>> scores = talkavatar.evaluate(render=tmp / "talk.mp4", audio=SAMPLE_SPEECH)
        >>> scores.summary["mode"], scores.summary["frames"]
        ('rendered clip', 10)
        >>> scores.summary["unavailable"]["control"]
        'no --motion given'
        >>> "lip_sync" in scores.summary or "lip_sync" in scores.summary["unavailable"]  # measured, or why not
        True
    """
    from talkavatar.pipeline.evaluate import evaluate_input

    return evaluate_input(None if bundle is None else Path(bundle), settings or EvalConfig(),
                          video=None if video is None else Path(video), render=None if render is None else Path(render),
                          audio=None if audio is None else Path(audio), photo=None if photo is None else Path(photo),
                          motion=None if motion is None else Path(motion),
                          report=None if report is None else Path(report), device=device, log=log)


def demo(directory: PathLike = "talkavatar-demo", preset: str | None = None, *, device: str | None = None,
         force: bool = False, log: Log = stderr_log, warn: Log = stderr_warn,
         show_progress: bool = False) -> DemoResult:
    """The whole pipeline on the shipped sample photo and speech: ``directory``/astronaut.avatar, demo.mp4 (with
    sound) and preview.png. ``preset``: tiny (CPU, 256x256) or fast (GPU, 1024x1024); default fast with CUDA. An
    up-to-date fit and video are kept (``force=True`` makes them again)."""
    from talkavatar.pipeline.demo import run_demo

    return run_demo(Path(directory), preset, device, log=log, warn=warn, show_progress=show_progress, force=force)
