"""Presenting an evaluation: a rich table (stderr), JSON-ready summaries (stdout with ``--json``) and, with
``--report DIR``, PNG plots and a contact sheet.

Files written: self-reenactment: ``psnr.png`` (per frame: PSNR and SSIM, L1 and perceptual distance, tracking error
per part, against the frame's time in the reference video; untracked frames shaded grey),
``contact_sheet.png`` (rows of reference |
render | |difference| inside the mask). Rendered clip: ``landmark_error.png`` (per-frame control error per part),
``lip_sync.png`` (mouth opening vs speech envelope, and correlation vs lag), ``contact_sheet.png`` (sampled frames).
matplotlib draws with its Agg backend (no display needed).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from rich.table import Table
from rich.text import Text


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.4g}"
    return str(value)


def table(summary: dict):
    """A rich Table of a summary (nested dicts flattened to ``a.b`` rows)."""
    t = Table(title=Text(f"talkavatar eval: {summary.get('mode', '')}"), show_header=True, header_style="bold")
    t.add_column("metric")
    t.add_column("value", justify="right")

    def rows(prefix: str, d: dict):
        for k, v in d.items():
            if k in ("mode", "timings_s"):
                continue
            name = f"{prefix}{k}"
            if isinstance(v, dict):
                rows(name + ".", v)
            elif isinstance(v, list):
                t.add_row(Text(name), Text(" x ".join(str(x) for x in v)))
            else:
                t.add_row(Text(name), Text(_fmt(v)))  # Text: values are shown as they are, never as markup

    rows("", summary)
    return t


def json_ready(summary: dict) -> str:
    """JSON text of a summary; infinities become the string "inf" (JSON has no infinity)."""
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        if isinstance(v, float) and not math.isfinite(v):
            return "inf" if v > 0 else ("-inf" if v < 0 else None)
        return v

    return json.dumps(clean(summary), indent=2)


def _pyplot():
    matplotlib.use("Agg")

    return plt


def _frames_axis(ax, fps: float, count: int, times: np.ndarray | None = None) -> np.ndarray:
    ax.set_xlabel("time (s)")
    ax.grid(alpha=0.3)
    return np.arange(count) / fps if times is None else np.asarray(times, np.float64)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def _stack(rows: list[list[np.ndarray]], gap: int = 4) -> np.ndarray:
    """Tile uint8 images [H, W, 3] row by row (each row's images share a height) on white."""
    height = sum(r[0].shape[0] for r in rows) + gap * (len(rows) - 1)
    width = max(sum(im.shape[1] for im in r) + gap * (len(r) - 1) for r in rows)
    sheet = np.full((height, width, 3), 255, np.uint8)
    y = 0
    for r in rows:
        x = 0
        for im in r:
            sheet[y:y + im.shape[0], x:x + im.shape[1]] = im[..., :3]
            x += im.shape[1] + gap
        y += r[0].shape[0] + gap
    return sheet


def write_reenactment_report(result, directory: Path) -> list[Path]:
    """Plots and contact sheet of a :class:`talkavatar.eval.reenact.Reenactment` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    plt = _pyplot()
    s = result.scores
    fig, (ax, ax_l1, ax_track) = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
    t = _frames_axis(ax, result.fps, len(s.psnr), result.times)
    half = 0.5 * (np.diff(t).min() if len(t) > 1 else 1.0 / result.fps)
    finite = np.where(np.isfinite(s.psnr), s.psnr, np.nan)
    ax.plot(t, finite, color="tab:blue", marker=".", label="PSNR (dB, inside mask)")
    ax.set_ylabel("PSNR (dB)")
    ax2 = ax.twinx()
    ax2.plot(t, s.ssim, color="tab:orange", marker=".", label="SSIM")
    ax2.set_ylabel("SSIM")
    for i in np.flatnonzero(~result.tracked):
        for a in (ax, ax_l1, ax_track):
            a.axvspan(t[i] - half, t[i] + half, color="0.85", lw=0)
    summary = result.summary()
    ax.set_title(f"self-reenactment per frame (tracked frames: PSNR {_fmt(summary['psnr_db'])} dB, "
                 f"SSIM {_fmt(summary['ssim'])})", fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    handles2, labels2 = ax2.get_legend_handles_labels()
    ax.legend(handles + handles2, labels + labels2, loc="best", fontsize=8)
    ax_l1.plot(t, s.l1, color="tab:green", marker=".", label="L1 (inside mask)")
    if s.perceptual is not None:
        ax_l1.plot(t, s.perceptual, color="tab:purple", marker=".", label=f"perceptual ({s.perceptual_kind})")
    ax_l1.set_ylabel("distance")
    ax_l1.grid(alpha=0.3)
    ax_l1.legend(loc="best", fontsize=8)
    for part, values in result.track_errors.per_frame.items():
        if np.isfinite(values).any():
            ax_track.plot(t, values, marker=".", label=part)
    ax_track.set_ylabel("error (% of height)")
    ax_track.set_title("tracking: the replayed poses' landmarks vs MediaPipe on the reference", fontsize=10)
    ax_track.set_xlabel("time in the reference video (s)")
    ax_track.grid(alpha=0.3)
    if ax_track.lines:
        ax_track.legend(loc="best", fontsize=8)
    paths = [_save(fig, directory / "psnr.png")]
    rows = []
    for _, reference, render, mask in result.sheet:
        inside = (mask[..., None].astype(np.float32) / 255.0)
        diff = np.abs(render.astype(np.float32) - reference.astype(np.float32)) * inside
        rows.append([reference, render, np.clip(diff * 2, 0, 255).astype(np.uint8)])
    Image.fromarray(_stack(rows)).save(directory / "contact_sheet.png")
    paths.append(directory / "contact_sheet.png")
    return paths


def write_clip_report(result, directory: Path) -> list[Path]:
    """Plots and contact sheet of a :class:`talkavatar.eval.rendered.ClipEvaluation` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    plt = _pyplot()
    paths = []
    if result.control is not None:
        fig, ax = plt.subplots(figsize=(7, 3.2))
        t = _frames_axis(ax, result.fps, result.frames)
        for part, values in result.control.per_frame.items():
            if np.isfinite(values).any():
                ax.plot(t, values, marker=".", label=part)
        ax.set_ylabel("error (% of body height)")
        ax.set_title("control accuracy: MediaPipe on the render vs landmarks the motion asked for", fontsize=10)
        ax.legend(fontsize=8)
        paths.append(_save(fig, directory / "landmark_error.png"))
    if result.opening is not None and result.envelope is not None:
        fig, (ax, ax_lag) = plt.subplots(1, 2, figsize=(10, 3.2), gridspec_kw={"width_ratios": [3, 1]})
        t = _frames_axis(ax, result.fps, result.frames)
        opening = result.opening
        scale = np.nanmax(opening) if np.isfinite(opening).any() and np.nanmax(opening) > 0 else 1.0
        ax.plot(np.arange(len(result.envelope)) / 100.0, result.envelope, color="tab:gray", lw=1,
                label=f"speech envelope ({Path(result.audio).name})")
        ax.plot(t, opening / scale, color="tab:red", marker=".", ms=3, label="mouth opening (scaled)")
        ax.set_xlim(0, max(t[-1] if len(t) else 0, 1e-3))
        ax.set_title("mouth opening on the render vs speech envelope", fontsize=10)
        ax.legend(fontsize=8, loc="upper right")
        if result.lipsync is not None:
            s = result.lipsync
            ax_lag.plot(s.lags_ms, s.curve, color="tab:purple")
            ax_lag.axvline(s.best_lag_ms, color="k", ls=":", lw=1)
            ax_lag.set_title(f"r = {s.correlation:.2f} at 0 ms,\n{s.best_correlation:.2f} at {s.best_lag_ms:+.0f} ms",
                             fontsize=9)
        ax_lag.set_xlabel("lag (ms)")
        ax_lag.set_ylabel("Pearson r")
        ax_lag.grid(alpha=0.3)
        paths.append(_save(fig, directory / "lip_sync.png"))
    if result.sheet:
        images = [frame for _, frame in result.sheet]
        h = min(im.shape[0] for im in images)
        images = [im[:h] for im in images]
        Image.fromarray(_stack([images[:3], images[3:6]] if len(images) > 3 else [images])).save(
            directory / "contact_sheet.png")
        paths.append(directory / "contact_sheet.png")
    return paths
