"""The frame producer: poses the avatar for a batch of frames, rasterizes it and converts the pixels for a sink.

Everything happens on one torch device (gsplat on CUDA, the reference rasterizer on CPU); a batch of ``batch``
frames is posed and rasterized at once, and only the finished bytes (uint8, in the sink's pixel format) leave the
device. Memory is that of one batch, whatever the clip's length.

Pixel formats: ``yuv420p`` (BT.709 limited range, for H.264/VP9), ``rgb24`` (sRGB), ``rgba`` (sRGB, straight
alpha; for transparent PNG/WebM).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
from torch import Tensor

from talkavatar.core.avatar import Avatar
from talkavatar.core.cameras import Cameras
from talkavatar.core.cuda_graphs import CudaGraphed
from talkavatar.core.device import upload
from talkavatar.core.splats import Gaussians, RasterSettings, rasterize
from talkavatar.core.splats.gsplat_backend import render_capturable
from talkavatar.core.splats.gsplat_backend import unavailable_reason as gsplat_unavailable_reason
from talkavatar.render.background import Background
from talkavatar.render.camera_path import CameraPath
from talkavatar.core.color import linear_to_srgb
from talkavatar.render.color import srgb_to_yuv420p, to_uint8
from talkavatar.render.timeline import Timeline

PIXEL_FORMATS = ("yuv420p", "rgb24", "rgba")
GRAPH_POSING = True  # on CUDA, pose from a captured CUDA graph (FrameProducer.pose)
# With gsplat, pose and rasterize a batch from one captured CUDA graph (FrameProducer.render_graphed): gsplat's
# kernels with fixed-capacity tile lists, no host synchronisation inside a frame; the same numbers as posing from
# its graph and rasterizing with gsplat's wrapper. Off: GRAPH_POSING's graph and rasterize().
GRAPH_FRAMES = True
# gsplat's tile edge for render's frames (both paths): the same image as the fit's 16 (core.splats.tiles.TILE_SIZE),
# faster where the avatar covers few tiles (a small frame: its face's dense lists split over more thread blocks).
TILE_SIZE = 8
# The tile lists' capacity: this many times the first batch's (Gaussian, tile) pairs, plus PAIRS_SPARE, grown (and
# the graphs captured again) when a batch needs more.
PAIRS_MARGIN, PAIRS_SPARE = 1.25, 65536
# On CUDA, batches take turns on this many streams (FrameProducer.render): without GRAPH_FRAMES gsplat reads its
# tile-intersection count back to the host mid-frame, which on one stream waits for everything queued before it; on
# its own stream a batch's posing and projection run while the previous batch still rasterizes. (With GRAPH_FRAMES
# the count is read after the batch's work is queued, colour conversion included.)
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


class PairCount:
    """A graphed batch's (Gaussian, tile) pair count on its way to the host (copied behind the batch's work on the
    current stream), and the capacity of the tile lists that drew it."""

    def __init__(self, pairs: Tensor, capacity: int):
        self.capacity = capacity
        self._host = torch.empty(1, dtype=torch.int64, pin_memory=True)
        self._host.copy_(pairs.reshape(1), non_blocking=True)
        self._done = torch.cuda.Event()
        self._done.record()

    def count(self) -> int:
        """The count (waits for the batch's work)."""
        self._done.synchronize()
        return int(self._host[0])


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
        self.graph_frames = (GRAPH_FRAMES and backend != "reference"
                             and gsplat_unavailable_reason(self.device, torch.float32) is None)
        self.tile_size = TILE_SIZE
        self.pairs_capacity = 0  # of the frame graphs' tile lists; 0 until the first graphed batch
        self._frame_graphs: dict[int, CudaGraphed] = {}  # per stream, as _graphed
        self.streams = STREAMS if self.device.type == "cuda" else 1
        self._graphed: dict[int, CudaGraphed] = {}  # per stream: a stream's frames reuse its graph's outputs
        self._cuda_streams: list[torch.cuda.Stream] = []
        self._turn = 0

    @property
    def frame_bytes(self) -> int:
        w, h = self.cameras.width, self.cameras.height
        return {"yuv420p": w * h * 3 // 2, "rgb24": w * h * 3, "rgba": w * h * 4}[self.pixel_format]

    def __iter__(self) -> Iterator[FrameBatch]:
        """The clip's batches in order. A graphed batch is handed out once the next one is queued and its own tile
        lists are known to have held its pairs (else it is drawn again): no host wait between batches."""
        held = None
        for first in range(0, self.timeline.frames, self.batch):
            index = np.arange(first, min(first + self.batch, self.timeline.frames))
            queued = self._queue(index)
            if held is not None:
                yield FrameBatch(held[0], self._checked(*held[1:]))
            held = (first, index, *queued)
        if held is not None:
            yield FrameBatch(held[0], self._checked(*held[1:]))

    def _tick(self, t0: float) -> float:
        if self.synchronize:
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - t0

    def render(self, frame_index: np.ndarray) -> Tensor:
        """uint8 [B, frame_bytes] of output frames ``frame_index`` [B]. With ``streams`` > 1 (CUDA) the batch is
        made on the next of its streams; the caller's stream waits for it (work queued there later, such as a copy
        to the host, sees the finished pixels) without stopping the host, except that a graphed batch waits for
        its tile-pair count (see ``__iter__``, which does not)."""
        return self._checked(frame_index, *self._queue(frame_index))

    def _checked(self, frame_index: np.ndarray, pixels: Tensor, pairs: "PairCount | None") -> Tensor:
        """``pixels`` of a queued batch once its pair count is known to fit its tile lists; else the batch drawn
        again with larger lists."""
        if pairs is None or pairs.count() <= pairs.capacity:
            return pixels
        self.grow_pairs(pairs.count())
        return self.render(frame_index)

    @torch.no_grad()
    def _queue(self, frame_index: np.ndarray) -> tuple[Tensor, "PairCount | None"]:
        """:meth:`render` without its check: the pixels, and the pair count of a graphed batch."""
        if self.streams <= 1:
            return self._render(frame_index)
        if len(self._cuda_streams) != self.streams:
            self._cuda_streams = [torch.cuda.Stream(self.device) for _ in range(self.streams)]
        slot = self._turn % self.streams
        self._turn += 1
        caller, stream = torch.cuda.current_stream(self.device), self._cuda_streams[slot]
        with torch.cuda.stream(stream):
            pixels, pairs = self._render(frame_index, slot)
        caller.wait_stream(stream)
        pixels.record_stream(caller)  # its memory is not reused on `stream` before the caller's work on it is done
        return pixels, pairs

    def _render(self, frame_index: np.ndarray, slot: int = 0) -> tuple[Tensor, "PairCount | None"]:
        """:meth:`render` on the current stream; ``slot``: the stream's own posing (or frame) graph."""
        t0 = time.perf_counter()
        # pinned, queued uploads: a pageable copy would wait for the previous frame's work to finish on a GPU
        rotations, translation, arkit = (upload(t, self.device) for t in self.timeline.poses(frame_index))
        cams = self.cameras.at(torch.from_numpy(frame_index))
        cams = Cameras(upload(cams.world_to_camera, self.device), upload(cams.K, self.device), cams.width,
                       cams.height)
        graphed = self.render_graphed(rotations, translation, arkit, cams, slot) if self.graph_frames else None
        if graphed is not None:  # posing and raster in one replay: their time is counted as raster
            rgb, alpha, pairs = graphed
            self.timings.backend = "gsplat"
            self.timings.raster += self._tick(t0)
            t0 = time.perf_counter()
            pixels = self.convert(rgb, alpha)
            self.timings.convert += self._tick(t0)
            return pixels, PairCount(pairs, self.pairs_capacity)
        gaussians = self.pose(rotations, translation, arkit, slot)
        self.timings.posing += self._tick(t0)
        t0 = time.perf_counter()
        out = rasterize(gaussians, cams, backend=self.backend, depth=False, tile_size=self.tile_size)
        self.timings.backend = out.backend
        self.timings.raster += self._tick(t0)
        t0 = time.perf_counter()
        pixels = self.convert(out.rgb, out.alpha)
        self.timings.convert += self._tick(t0)
        return pixels, None

    @torch.no_grad()
    def render_graphed(self, rotations: Tensor, translation: Tensor, arkit: Tensor, cameras: Cameras,
                       slot: int = 0) -> tuple[Tensor, Tensor, Tensor] | None:
        """rgb [B, H, W, 3] over black, alpha [B, H, W, 1] and the batch's (Gaussian, tile) pairs (int64 [], on the
        device) of the avatar posed (``Avatar.pose`` arguments) and seen by ``cameras`` (B of them), replayed from
        a CUDA graph captured for ``batch`` frames (a shorter batch is padded): posing, gsplat's projection, the
        tile lists (``capacity`` long), raster. Valid while the pairs are <= ``pairs_capacity`` (the caller checks,
        after queuing its own work). The returned tensors are overwritten by the next call with the same ``slot``.
        None when the frame cannot be captured: then ``graph_frames`` turns False (a RuntimeWarning says why, kept
        in ``timings.extra["graph_frames"]``) and the caller poses and rasterizes as without it."""
        count = rotations.shape[0]
        args = [torch.cat([t, t[-1:].expand(self.batch - count, *t.shape[1:])]) if count < self.batch else t
                for t in (rotations, translation, arkit, cameras.world_to_camera, cameras.K)]
        size = (cameras.width, cameras.height)
        if not self.pairs_capacity:  # the first batch's pairs, counted once (a host synchronisation)
            self.grow_pairs(int(self._frame(*args, size=size, capacity=1)[2]))
        graphed = self._frame_graphs.get(slot)
        if graphed is None:
            try:
                graphed = CudaGraphed(lambda *a: self._frame(*a, size=size, capacity=self.pairs_capacity), *args)
            except RuntimeError as exc:  # the same frames without the graph, slower; said in the log
                self.graph_frames = False
                self.timings.extra["graph_frames"] = f"capture failed: {type(exc).__name__}: {exc}"
                warnings.warn(f"render frames are posed and rasterized without the frame graph (the same numbers, "
                              f"slower): it could not be captured ({type(exc).__name__}: {exc})", RuntimeWarning,
                              stacklevel=2)
                return None
            self._frame_graphs[slot] = graphed
        rgb, alpha, pairs = graphed(*args)
        return rgb[:count], alpha[:count], pairs

    def _frame(self, rotations: Tensor, translation: Tensor, arkit: Tensor, world_to_camera: Tensor, K: Tensor, *,
               size: tuple[int, int], capacity: int) -> tuple[Tensor, Tensor, Tensor]:
        """The captured function of :meth:`render_graphed`."""
        cameras = Cameras(world_to_camera, K, *size)
        return render_capturable(self.avatar.pose(rotations, translation, arkit), cameras, RasterSettings(), capacity,
                                 self.tile_size)

    def grow_pairs(self, pairs: int) -> None:
        """Tile lists for ``pairs`` (Gaussian, tile) pairs with a margin; the frame graphs are captured again."""
        torch.cuda.synchronize(self.device)  # no queued work reads the old graphs' memory
        self.pairs_capacity = max(1, pairs, int(pairs * PAIRS_MARGIN)) + PAIRS_SPARE
        self._frame_graphs.clear()

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
