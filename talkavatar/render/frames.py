"""The frame producer: poses the avatar for a batch of frames, rasterizes it and converts the pixels for a sink.

Everything happens on one torch device (gsplat on CUDA, the reference rasterizer on CPU); a batch of ``batch``
frames is posed and rasterized at once, and only the finished bytes (uint8, in the sink's pixel format) leave the
device. Memory is that of one batch, whatever the clip's length.

Pixel formats: ``yuv420p`` (BT.709 limited range, for H.264/VP9), ``rgb24`` (sRGB), ``rgba`` (sRGB, straight
alpha; for transparent PNG/WebM).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
from torch import Tensor

from talkavatar.core.avatar import Avatar
from talkavatar.core.cameras import Cameras
from talkavatar.core.cuda_graphs import CudaGraphed
from talkavatar.core.device import upload
from talkavatar.core.splats import Gaussians, rasterize
from talkavatar.core.splats.gsplat_backend import TILE_SIZE as GSPLAT_TILE_SIZE
from talkavatar.render.background import Background
from talkavatar.render.camera_path import CameraPath
from talkavatar.core.color import linear_to_srgb
from talkavatar.render.color import srgb_to_yuv420p, to_uint8
from talkavatar.render.timeline import Timeline

PIXEL_FORMATS = ("yuv420p", "rgb24", "rgba")
GRAPH_POSING = True  # on CUDA, pose from a captured CUDA graph (FrameProducer.pose)
# gsplat's tile edge for frames rasterized one at a time (:func:`tile_size`): the same image as the fit's 16
# (core.splats.gsplat_backend.TILE_SIZE), faster where a few tiles hold most of the avatar's Gaussians and serialise
# the raster (512² batch 1 on an H100, pose + raster 515 -> 667 fps; 1080x1920 batch 1 820 -> 844;
# benchmarks/render_tiles_ab.py, RESULTS.md "render22"). A batch of frames has that many more tiles to spread over
# the GPU while 8-pixel tiles double its tile pairs; not measured there, so batches keep 16.
SINGLE_FRAME_TILE_SIZE = 8
# On CUDA, batches take turns on this many streams (FrameProducer.render): gsplat reads its tile-intersection count
# back to the host mid-frame, which on one stream waits for everything queued before it; on its own stream a
# batch's posing and projection run while the previous batch still rasterizes.
STREAMS = 2


@dataclass
class FrameTimings:
    """Seconds spent per phase (wall clock; on CUDA only meaningful with ``synchronize=True``)."""

    posing: float = 0.0
    raster: float = 0.0
    convert: float = 0.0
    backend: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class FrameBatch:
    """``first``: index of the batch's first frame; ``pixels``: uint8 [B, bytes per frame] on the render device."""

    first: int
    pixels: Tensor


def tile_size(batch: int) -> int:
    """gsplat's tile edge in pixels for rasterizing ``batch`` frames at once (the same image for any)."""
    return SINGLE_FRAME_TILE_SIZE if batch == 1 else GSPLAT_TILE_SIZE


class FrameProducer:
    """Yields the clip's frames in batches (see the module docstring)."""

    def __init__(self, avatar: Avatar, timeline: Timeline, cameras: CameraPath, background: Background, *,
                 pixel_format: str, batch: int = 8, device: torch.device | str = "cpu", backend: str = "auto",
                 synchronize: bool = False):
        if pixel_format not in PIXEL_FORMATS:
            raise ValueError(f"pixel_format must be one of {PIXEL_FORMATS}, got {pixel_format!r}")
        if pixel_format != "rgba" and background.transparent:
            raise ValueError(f"a transparent background needs the rgba pixel format, not {pixel_format}")
        self.device = torch.device(device)
        self.avatar = avatar.to(self.device, torch.float32)
        self.timeline = timeline
        self.cameras = cameras
        self.background = background.to(self.device)
        self.pixel_format = pixel_format
        self.batch = int(batch)
        self.backend = backend
        self.synchronize = synchronize and self.device.type == "cuda"
        self.timings = FrameTimings()
        self.graph_posing = GRAPH_POSING and self.device.type == "cuda"
        self.tile_size = tile_size(self.batch)
        self.streams = STREAMS if self.device.type == "cuda" else 1
        self._graphed: dict[int, CudaGraphed] = {}  # per stream: a stream's frames reuse its graph's outputs
        self._cuda_streams: list[torch.cuda.Stream] = []
        self._turn = 0

    @property
    def frame_bytes(self) -> int:
        w, h = self.cameras.width, self.cameras.height
        return {"yuv420p": w * h * 3 // 2, "rgb24": w * h * 3, "rgba": w * h * 4}[self.pixel_format]

    def __iter__(self) -> Iterator[FrameBatch]:
        for first in range(0, self.timeline.frames, self.batch):
            index = np.arange(first, min(first + self.batch, self.timeline.frames))
            yield FrameBatch(first, self.render(index))

    def _tick(self, t0: float) -> float:
        if self.synchronize:
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - t0

    @torch.no_grad()
    def render(self, frame_index: np.ndarray) -> Tensor:
        """uint8 [B, frame_bytes] of output frames ``frame_index`` [B]. With ``streams`` > 1 (CUDA) the batch is
        made on the next of its streams; the caller's stream waits for it (work queued there later, such as a copy
        to the host, sees the finished pixels) without stopping the host."""
        if self.streams <= 1:
            return self._render(frame_index)
        if len(self._cuda_streams) != self.streams:
            self._cuda_streams = [torch.cuda.Stream(self.device) for _ in range(self.streams)]
        slot = self._turn % self.streams
        self._turn += 1
        caller, stream = torch.cuda.current_stream(self.device), self._cuda_streams[slot]
        with torch.cuda.stream(stream):
            pixels = self._render(frame_index, slot)
        caller.wait_stream(stream)
        pixels.record_stream(caller)  # its memory is not reused on `stream` before the caller's work on it is done
        return pixels

    def _render(self, frame_index: np.ndarray, slot: int = 0) -> Tensor:
        """:meth:`render` on the current stream; ``slot``: the stream's own posing graph."""
        t0 = time.perf_counter()
        # pinned, queued uploads: a pageable copy would wait for the previous frame's work to finish on a GPU
        rotations, translation, arkit = (upload(t, self.device) for t in self.timeline.poses(frame_index))
        gaussians = self.pose(rotations, translation, arkit, slot)
        self.timings.posing += self._tick(t0)
        t0 = time.perf_counter()
        cams = self.cameras.at(torch.from_numpy(frame_index))
        cams = Cameras(upload(cams.world_to_camera, self.device), upload(cams.K, self.device), cams.width,
                       cams.height)
        out = rasterize(gaussians, cams, backend=self.backend, depth=False, tile_size=self.tile_size)
        self.timings.backend = out.backend
        self.timings.raster += self._tick(t0)
        t0 = time.perf_counter()
        pixels = self.convert(out.rgb, out.alpha)
        self.timings.convert += self._tick(t0)
        return pixels

    def pose(self, rotations: Tensor, translation: Tensor, arkit: Tensor, slot: int = 0) -> Gaussians:
        """The avatar posed for a batch of frames (``Avatar.pose`` arguments). With ``graph_posing`` the posing
        is replayed from a CUDA graph captured for ``batch`` frames (a shorter last batch is padded): one launch
        instead of hundreds of small kernels, the host-side cost that bounds small batches. The returned tensors
        are overwritten by the next call with the same ``slot`` (one graph per stream)."""
        count = rotations.shape[0]
        if not self.graph_posing:
            return self.avatar.pose(rotations, translation, arkit)
        args = [torch.cat([t, t[-1:].expand(self.batch - count, *t.shape[1:])]) if count < self.batch else t
                for t in (rotations, translation, arkit)]
        if slot not in self._graphed:
            self._graphed[slot] = CudaGraphed(self.avatar.pose, *args)
        posed = self._graphed[slot](*args)
        if count == self.batch:
            return posed
        return Gaussians(**{k: getattr(posed, k)[:count] for k in ("means", "quats", "log_scales", "opacity_logit",
                                                                    "rgb")})

    def convert(self, rgb: Tensor, alpha: Tensor) -> Tensor:
        """Linear ``rgb`` rendered over black [B, H, W, 3] and ``alpha`` [B, H, W, 1] -> uint8 [B, frame_bytes]."""
        srgb = linear_to_srgb(self.background.composite(rgb, alpha))
        b = srgb.shape[0]
        if self.pixel_format == "yuv420p":
            return srgb_to_yuv420p(srgb)
        if self.pixel_format == "rgba":
            srgb = torch.cat([srgb, alpha], dim=-1)
        return to_uint8(srgb).reshape(b, -1)
