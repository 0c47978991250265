"""Rendering overlapped with encoding: a writer thread drains a bounded queue of finished frame batches.

The producer (posing + rasterizing, on the GPU when there is one) keeps going while the writer thread copies the
previous batch to host memory and pipes it into ffmpeg (a separate process, which encodes in parallel). The queue
holds at most ``depth`` batches, so host and device memory stay flat however long the clip is.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Iterable

from talkavatar.render.frames import FrameBatch
from talkavatar.render.video import VideoSink

_DONE = object()


class EncodeThread:
    """Feeds ``sink`` from a thread. ``put`` blocks while ``depth`` batches wait; errors surface in the caller."""

    def __init__(self, sink: VideoSink, depth: int = 3):
        self.sink = sink
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.seconds = 0.0  # time spent copying to the host and writing into ffmpeg (blocked on the encoder)
        self.thread = threading.Thread(target=self._run, name="talkavatar-encode", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is _DONE:
                return
            if self.error is not None:
                continue  # drain, so that the producer never blocks on a dead writer
            try:
                t0 = time.perf_counter()
                host = item.pixels.cpu().numpy()
                self.sink.write(memoryview(host).cast("B"), count=host.shape[0])
                self.seconds += time.perf_counter() - t0
            except BaseException as e:  # noqa: BLE001 - re-raised in the producer's thread
                self.error = e

    def put(self, batch: FrameBatch) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(batch)

    def finish(self) -> None:
        """Wait until every queued batch is written; re-raise the writer's error if it had one."""
        self.queue.put(_DONE)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        """Abandon the remaining batches (after a failure in the producer)."""
        self.error = self.error or RuntimeError("stopped")
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                break
        self.queue.put(_DONE)
        self.thread.join()


def encode(batches: Iterable[FrameBatch], sink: VideoSink, depth: int = 3) -> float:
    """Write every batch through an :class:`EncodeThread`; returns the writer's busy seconds."""
    writer = EncodeThread(sink, depth)
    try:
        for batch in batches:
            writer.put(batch)
    except BaseException:
        writer.stop()
        raise
    writer.finish()
    return writer.seconds
