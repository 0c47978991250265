"""The static web player: a folder that plays the Gaussian avatar in any WebGL2 browser, with its audio.

Folder layout (no network access at run time, nothing from a CDN; any static file server or ``talkavatar view``):

- ``index.html``, ``player.js``: the player (:file:`talkavatar/export/player/`, talkavatar's own code,
  Apache-2.0): GPU skinning of the rig in a vertex pass, the Gaussians posed from their triangles like
  :meth:`talkavatar.core.avatar.Avatar.pose`, EWA splatting with gsplat's projection rules, linear blending then
  sRGB over the background, as the Python renderer does. Orbit (drag), zoom (wheel), play/pause (button, space).
- ``avatar.json`` + ``avatar.bin``: the avatar and its clip (the ``arrays`` table gives each array's offset,
  dtype and shape in the little-endian binary file); ``poster.png``: the first frame rendered by the Python
  renderer from the player's start camera (at most 640 px; the page scales it); ``audio.*``: the sound, when there is one.

Why our own renderer rather than a splat library: the avatar has to be posed per frame exactly as the Python
renderer poses it (Gaussians bound to triangles, rotated by their triangle's frame, ARKit morphs before skinning);
a generic splat viewer's skinning (per-splat bone weights) cannot reproduce that, and its shading/sorting
conventions differ from gsplat's. The player is ~500 lines with no dependency.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from talkavatar.bundle.atomic import default_mode
from talkavatar.core.avatar import Avatar
from talkavatar.core.cameras import Cameras
from talkavatar.core.color import linear_to_srgb
from talkavatar.core.splats import rasterize
from talkavatar.errors import UsageError
from talkavatar.export.clip import Clip, skinning_matrices
from talkavatar.export.config import ExportConfig
from talkavatar.export.serve import MARKER
from talkavatar.export.texture import png_bytes
from talkavatar.motion.file import Motion
from talkavatar.version import __version__

PLAYER_FILES = ("index.html", "player.js")
PLAYER_DIR = Path(__file__).parent / "player"
FOV_Y_DEGREES = 30.0
MARGIN = 1.08
MORPH_TOLERANCE = 1e-7
BACKGROUND = (1.0, 1.0, 1.0)  # linear white, the renderer's default
MAX_INFLUENCES = 12  # skinning weights per vertex player.js reads
POSTER_SIZE = 640  # longer side of the poster frame, pixels (the page scales it to the canvas)


def write_player(output: Path, avatar: Avatar, clip: Clip | None, audio: Path | None, config: ExportConfig,
                 log: Callable[[str], None] = print) -> dict:
    """Build the player folder beside ``output`` and move it into place (replacing an earlier player only)."""
    output = Path(output)
    if output.exists() and not (output.is_dir() and ((output / MARKER).is_file() or not any(output.iterdir()))):
        raise UsageError(f"{output} exists and is not a talkavatar web player", tip="choose another -o folder")
    clip = clip or Clip.of(Motion.still(1))
    if avatar.rig.skin_indices.shape[1] > MAX_INFLUENCES:
        raise UsageError(f"the web player reads at most {MAX_INFLUENCES} skinning weights per vertex; this rig has "
                         f"{avatar.rig.skin_indices.shape[1]}")
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        for name in PLAYER_FILES:
            shutil.copyfile(PLAYER_DIR / name, staging / name)
        sound = None
        if audio is not None:
            sound = f"audio{Path(audio).suffix.lower()}"
            shutil.copyfile(audio, staging / sound)
        camera = start_camera(avatar, clip, config.width, config.height)
        arrays = player_arrays(avatar, clip)
        table, blob = pack(arrays)
        (staging / "avatar.bin").write_bytes(blob)
        doc = {"format": "talkavatar.player", "version": 1, "generator": f"talkavatar {__version__}",
               "gaussians": avatar.count, "vertices": int(avatar.rig.vertices.shape[0]),
               "bones": int(avatar.rig.joints.shape[0]), "influences": int(avatar.rig.skin_indices.shape[1]),
               "morph_vertices": int(arrays["morph_vertex"].shape[0]), "fps": clip.fps, "keys": clip.keys,
               "seconds": clip.seconds, "audio": sound, "poster": "poster.png", "background": list(BACKGROUND),
               "camera": camera, "arrays": table}
        (staging / MARKER).write_text(json.dumps(doc, indent=1))
        poster_camera = scaled_camera(camera, min(1.0, POSTER_SIZE / max(config.width, config.height)))
        log(f"web: rendering the poster frame ({poster_camera['width']}x{poster_camera['height']}, "
            f"{avatar.count} Gaussians)")
        (staging / "poster.png").write_bytes(png_bytes(render_frame(avatar, clip, 0, poster_camera)))
        staging.chmod(default_mode(directory=True))
        if output.exists():
            shutil.rmtree(output)
        staging.rename(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"player": str(output / "index.html"), "audio": sound}


def start_camera(avatar: Avatar, clip: Clip, width: int, height: int) -> dict:
    """The player's first camera: in front of the body at its first pose (facing it, +Z), fitting its height.

    Returns ``world_to_camera`` (row-major 4x4, OpenCV axes), ``fx, fy, cx, cy`` (pixels), ``width``, ``height``
    and the orbit ``target`` (the body's bounding-box centre)."""
    with torch.no_grad():
        means = avatar.pose(*_poses(clip, 0)).means[0].double()
    low, high = means.min(0).values, means.max(0).values
    centre, half = ((low + high) / 2).tolist(), ((high - low) / 2).tolist()
    focal = height / 2 / math.tan(math.radians(FOV_Y_DEGREES) / 2)
    reach = max(half[1], half[0] * height / width)
    distance = MARGIN * reach * focal / (height / 2) + half[2]
    eye = [centre[0], centre[1], centre[2] + distance]
    # looking along -Z: camera x = +X, y = -Y (down), z = -Z
    rotation = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3] = rotation
    world_to_camera[:3, 3] = -rotation @ np.array(eye)
    return {"world_to_camera": world_to_camera.reshape(-1).tolist(), "fx": focal, "fy": focal, "cx": width / 2,
            "cy": height / 2, "width": width, "height": height, "target": centre}


def camera_tensors(camera: dict) -> Cameras:
    """A :class:`Cameras` (float32, CPU) of a player camera dict."""
    w2c = torch.tensor(camera["world_to_camera"], dtype=torch.float32).reshape(1, 4, 4)
    K = torch.tensor([[camera["fx"], 0, camera["cx"]], [0, camera["fy"], camera["cy"]], [0, 0, 1]],
                     dtype=torch.float32)[None]
    return Cameras(w2c, K, camera["width"], camera["height"])


def render_frame(avatar: Avatar, clip: Clip, key: int, camera: dict) -> np.ndarray:
    """uint8 [H, W, 3] sRGB: key ``key`` of the clip from ``camera`` over the player's background (the Python
    renderer's picture of what the player shows)."""
    with torch.no_grad():
        gaussians = avatar.pose(*_poses(clip, key))
        out = rasterize(gaussians, camera_tensors(camera))
        background = torch.tensor(BACKGROUND)
        rgb = out.rgb[0] + (1 - out.alpha[0]) * background
        return (linear_to_srgb(rgb.clamp(0, 1)) * 255).round().to(torch.uint8).numpy()


def scaled_camera(camera: dict, scale: float) -> dict:
    """``camera`` for an image ``scale`` times the size (what the player's ``?scale=`` shows)."""
    width, height = round(camera["width"] * scale), round(camera["height"] * scale)
    sx, sy = width / camera["width"], height / camera["height"]
    return {**camera, "fx": camera["fx"] * sx, "fy": camera["fy"] * sy, "cx": camera["cx"] * sx,
            "cy": camera["cy"] * sy, "width": width, "height": height}


def _poses(clip: Clip, key: int):
    return tuple(torch.from_numpy(np.ascontiguousarray(getattr(clip, k)[key:key + 1]))
                 for k in ("joint_rotations", "root_translation", "arkit_weights"))


def player_arrays(avatar: Avatar, clip: Clip) -> dict[str, np.ndarray]:
    """What ``player.js`` reads (shapes: V rig vertices, K influences, M vertices some morph moves, N Gaussians,
    T clip keys, J bones)."""
    rig = avatar.rig.to("cpu", torch.float32)
    blend = rig.expression_blendshapes.numpy()  # [52, V, 3]
    moved = np.nonzero(np.abs(blend).max((0, 2)) > MORPH_TOLERANCE)[0]
    faces = rig.faces.numpy()[avatar.binding.face_index.numpy()]
    return {
        "rest_vertices": rig.vertices.numpy(),                                    # [V, 3]
        "skin_indices": rig.skin_indices.numpy().astype(np.uint16),               # [V, K]
        "skin_weights": rig.skin_weights.numpy(),                                 # [V, K]
        "morph_vertex": moved.astype(np.uint32),                                  # [M]
        "morph_offsets": np.ascontiguousarray(blend[:, moved].transpose(1, 0, 2)),  # [M, 52, 3]
        "corners": faces.astype(np.uint32),                                       # [N, 3]
        "barycentrics": avatar.binding.barycentrics.numpy(),                      # [N, 3]
        "offsets": avatar.offsets.detach().numpy(),                               # [N, 3]
        "quats": avatar.quats.detach().numpy(),                                   # [N, 4] wxyz
        "log_scales": avatar.log_scales.detach().numpy(),                         # [N, 3]
        "opacity": torch.sigmoid(avatar.opacity_logit.detach()).numpy(),          # [N]
        "rgb": avatar.rgb.detach().clamp(0, 1).numpy(),                           # [N, 3] linear
        "times": clip.times.astype(np.float32),                                   # [T]
        "bone_matrices": skinning_matrices(avatar.rig, clip).reshape(clip.keys, -1),  # [T, J*12]
        "arkit_weights": np.clip(clip.arkit_weights, 0, 1),                       # [T, 52]
    }


def pack(arrays: dict[str, np.ndarray]) -> tuple[dict, bytes]:
    """(table name -> {offset, dtype, shape}, the concatenated little-endian bytes, each array 16-byte aligned)."""
    table, chunks, offset = {}, [], 0
    for name, array in arrays.items():
        array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        pad = -offset % 16
        chunks.append(b"\0" * pad)
        offset += pad
        table[name] = {"offset": offset, "dtype": array.dtype.name, "shape": list(array.shape)}
        chunks.append(array.tobytes())
        offset += array.nbytes
    return table, b"".join(chunks)
