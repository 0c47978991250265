"""Replay a fixed-shape torch function as one CUDA graph: removes the per-kernel launch cost of the Python side.

Small-batch posing (forward kinematics level by level, skinning, binding: hundreds of small kernels) is bound by the
host, not the GPU; replaying a captured graph runs the same kernels on the same numbers without the host work. The
function must be capturable: fixed shapes, no host synchronisation (``.item()``, ``.tolist()``, printing tensors,
data-dependent shapes), no host-to-device copies of Python values. gsplat's rasterization is not (it reads the
number of tile intersections back to the host), so only the posing half of a frame can be graphed.
"""

from __future__ import annotations

import gc
import re
import time
import traceback
import warnings
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor


class CudaGraphed:
    """``fn(*args)`` captured once for the shapes of ``example_args`` (CUDA tensors), replayed on each call.

    Calls copy their tensor arguments into the captured input buffers, replay, and return the captured outputs:
    **the returned tensors are overwritten by the next call** (clone what you keep). Arguments must match the
    example shapes, dtypes and devices; anything else raises ``ValueError``. Autograd is not recorded.
    """

    def __init__(self, fn: Callable, *example_args: Tensor, warmup: int = 3):
        if not example_args or not all(torch.is_tensor(a) and a.is_cuda for a in example_args):
            raise ValueError("CudaGraphed needs CUDA tensor arguments")
        self._inputs = [a.detach().clone() for a in example_args]
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.no_grad(), torch.cuda.stream(stream):  # warm-up outside capture: lazy init, cuBLAS handles
            for _ in range(warmup):
                fn(*self._inputs)
        torch.cuda.current_stream().wait_stream(stream)
        self._graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), torch.cuda.graph(self._graph):
            self._outputs = fn(*self._inputs)

    def __call__(self, *args: Tensor):
        if len(args) != len(self._inputs):
            raise ValueError(f"expected {len(self._inputs)} arguments, got {len(args)}")
        for i, (buffer, arg) in enumerate(zip(self._inputs, args)):
            if arg.shape != buffer.shape or arg.dtype != buffer.dtype or arg.device != buffer.device:
                raise ValueError(f"argument {i} is {arg.dtype} {list(arg.shape)} on {arg.device}; the graph was "
                                 f"captured for {buffer.dtype} {list(buffer.shape)} on {buffer.device}")
            buffer.copy_(arg)
        self._graph.replay()
        return self._outputs

    @property
    def outputs(self):
        """The captured outputs (the same objects every call returns)."""
        return self._outputs



class GraphedTerms:
    """``fn(*tensors) -> tuple of tensors`` (loss terms), its forward and backward each replayed as one CUDA graph
    (``torch.cuda.make_graphed_callables``): one capture per signature of the arguments (shapes, dtypes, which
    require gradients), made on the first call with that signature.

    Gradients flow to the arguments as from ``fn`` itself, so the eager parts around it (gsplat's rasterizer, which
    cannot be captured) chain as usual. ``fn`` must be capturable (see :class:`CudaGraphed`) and read nothing that
    changes between calls except its arguments. The returned tensors are overwritten by the next call: clone what
    you keep past it. So are the gradients it passes back (its graph's buffers): an argument that only this
    function reaches gets the buffer itself from ``torch.autograd.grad``, and as its ``.grad`` from ``backward()``
    (autograd keeps an unshared gradient without copying it). Off CUDA, without autograd, with no argument
    requiring a gradient or with ``enabled`` False, calls ``fn`` itself (the reference twin: the same function, op
    by op); so does every call after a capture failed (with a RuntimeWarning, the reason in ``failure``).
    """

    def __init__(self, fn: Callable, enabled: bool = True, warmup: int = 3):
        self.fn, self.enabled, self.warmup = fn, enabled, warmup
        self.failure = ""  # why a capture failed (then ``enabled`` is False and every call runs ``fn``)
        self.capture_seconds = 0.0  # wall time of the captures (their warm-up calls included)
        self._graphs: dict[tuple, Callable] = {}

    def __call__(self, *args: Tensor) -> tuple[Tensor, ...]:
        if not (self.enabled and torch.is_grad_enabled() and all(a.is_cuda for a in args)
                and any(a.requires_grad for a in args)):
            return self.fn(*args)
        key = tuple((tuple(a.shape), a.dtype, a.device, a.requires_grad) for a in args)
        graphed = self._graphs.get(key)
        if graphed is None:
            samples = tuple(a.detach().clone().requires_grad_(a.requires_grad) for a in args)
            started = time.perf_counter()
            try:
                graphed = torch.cuda.make_graphed_callables(self.fn, samples, num_warmup_iters=self.warmup,
                                                            allow_unused_input=True)
            except RuntimeError as exc:  # not capturable after all: the same terms op by op, slower
                self.enabled, self.failure = False, f"{type(exc).__name__}: {exc}"
                name = getattr(getattr(self.fn, "func", self.fn), "__name__", "a loss term")
                warnings.warn(f"{name} runs op by op: it could not be "
                              f"captured as a CUDA graph ({self.failure})", RuntimeWarning, stacklevel=2)
                return self.fn(*args)
            self._graphs[key] = graphed
            self.capture_seconds += time.perf_counter() - started  # make_graphed_callables synchronises at its end
        return graphed(*args)

    def status(self) -> str:
        """"graphed (n, s s)" with n captured signatures and the seconds their captures took, "failed: why", or
        "op by op"."""
        if self.failure:
            return f"failed: {self.failure}"
        return f"graphed ({len(self._graphs)}, {self.capture_seconds:.2f} s)" if self._graphs else "op by op"


class GraphedInPlace:
    """``fn()``, in-place work on tensors that keep their storage (parameters, buffers), run as itself on the first
    call and captured as a CUDA graph then; later calls replay the graph: the same kernels on the same memory, one
    launch. ``fn`` must be capturable (see :class:`CudaGraphed`) and touch no tensor that is reallocated between
    calls. Off CUDA (``device``) or with ``enabled`` False, every call runs ``fn``."""

    def __init__(self, fn: Callable[[], None], device: torch.device, enabled: bool = True):
        self.fn, self.enabled = fn, enabled and torch.device(device).type == "cuda"
        self._graph: torch.cuda.CUDAGraph | None = None

    def __call__(self) -> None:
        if not self.enabled:
            self.fn()
        elif self._graph is None:
            self.fn()  # this call's work (and any lazy initialisation), outside the capture
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):  # captured, not run
                self.fn()
            self._graph = graph
        else:
            self._graph.replay()


class GraphedSteps:
    """The steps of an optimisation with fixed shapes, ``step() -> loss`` (forward, backward and the optimiser's
    in-place update of tensors that keep their storage: :class:`talkavatar.core.adam.Adam` with ``capturable``),
    replayed from one CUDA graph: the first ``warmup`` calls run ``step`` op by op on a side stream (lazy
    initialisation, and whatever the step fixes on its first call), the next call captures it (the cyclic garbage
    collector off meanwhile) and replays the graph, later calls replay it. Each call is one step; each returns the
    captured loss (overwritten by the next replay).
    ``zero_grad`` (set the gradients to None) runs before every call that runs or captures ``step``: the captured
    backward then allocates the gradients in the graph's memory, where every replay writes them anew (no
    ``zero_grad`` between replays). ``step`` must be capturable (see :class:`CudaGraphed`).

    Off CUDA (``device``) or with ``enabled`` False every call is ``zero_grad(); step()`` (the reference twin). A
    capture that fails is no silent fallback: ``failure`` says why (with the first synchronising operation of one
    step run under ``torch.cuda.set_sync_debug_mode("error")``, where one raised), a RuntimeWarning says so, and the
    steps run op by op from then on."""

    def __init__(self, step: Callable[[], Tensor], zero_grad: Callable[[], None], device: torch.device,
                 enabled: bool = True, warmup: int = 2):
        self.step, self.zero_grad, self.warmup = step, zero_grad, warmup
        self.enabled = enabled and torch.device(device).type == "cuda"
        self.failure = ""
        self.capture_seconds = 0.0
        self.calls = 0
        self._graph: torch.cuda.CUDAGraph | None = None
        self._loss: Tensor | None = None
        self._stream = torch.cuda.Stream() if self.enabled else None

    @property
    def graphed(self) -> bool:
        """Whether the steps replay a captured graph."""
        return self._graph is not None

    def __call__(self) -> Tensor:
        self.calls += 1
        if self._graph is not None:
            self._graph.replay()
            return self._loss
        if not self.enabled:
            self.zero_grad()
            return self.step()
        self._stream.wait_stream(torch.cuda.current_stream())
        if self.calls <= self.warmup:
            with torch.cuda.stream(self._stream):
                self.zero_grad()
                loss = self.step()
            torch.cuda.current_stream().wait_stream(self._stream)
            return loss
        return self._capture()

    def _capture(self) -> Tensor:
        started = time.perf_counter()
        graph = torch.cuda.CUDAGraph()
        self.zero_grad()
        collecting = gc.isenabled()
        # no cyclic collection during the capture: an earlier graph freed by it in the middle of this one spoils it
        # (off for the capture's few ms, instead of a full collection before each: tens of ms a capture)
        gc.disable()
        current = torch.cuda.current_stream()
        try:
            with torch.cuda.graph(graph, stream=self._stream):  # recorded, not run
                loss = self.step()
        except RuntimeError as exc:
            torch.cuda.set_stream(current)  # a failed capture_end leaves the capture's stream current
            return self._op_by_op(exc)
        finally:
            if collecting:
                gc.enable()
        graph.replay()
        self._graph, self._loss = graph, loss
        self.capture_seconds = time.perf_counter() - started
        return loss

    def _op_by_op(self, exc: RuntimeError) -> Tensor:
        """After a failed capture: why (``failure``, with the first synchronising operation), a warning, and this
        call's step op by op, as every later call's."""
        torch.cuda.synchronize()
        self.enabled, self.failure = False, f"{type(exc).__name__}: {exc}".splitlines()[0]
        self.zero_grad()
        where, loss = _first_sync(self.step)
        self.failure += where
        warnings.warn(f"the steps run op by op: they could not be captured as a CUDA graph ({self.failure})",
                      RuntimeWarning, stacklevel=4)
        if loss is None:  # the synchronising step stopped part way: this call's step again, op by op
            self.zero_grad()
            loss = self.step()
        return loss


def _first_sync(step: Callable[[], Tensor]) -> tuple[str, Tensor | None]:
    """One ``step()`` (a real step) with host synchronisation an error -> ("; first synchronising operation: where",
    None) where one raised, else ("", the step's loss). "where": the innermost frames of the error outside torch
    and, for an error in the backward pass, the backward node and the forward line that made it (autograd's anomaly
    mode, without its NaN checks: they synchronise)."""
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            return _step_or_where(step, caught)
    finally:
        torch.cuda.set_sync_debug_mode(previous)


def _step_or_where(step: Callable[[], Tensor], caught: list) -> tuple[str, Tensor | None]:
    """:func:`_first_sync`'s step under autograd's anomaly mode, its warnings recorded in ``caught``."""
    with torch.autograd.detect_anomaly(check_nan=False):
        try:
            return "", step()
        except RuntimeError as exc:
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if _outside_torch(f.filename)][-2:]
            where = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.line}" for f in reversed(frames))
            for w in caught:
                text = str(w.message)
                if "Traceback of forward call" in text:
                    lines = [line.strip() for line in text.splitlines()]
                    made = [f"{Path(m[1]).name}:{m[2]} {lines[i + 1]}" for i, m in
                            enumerate(re.match(r'File "(.*)", line (\d+)', line) for line in lines[:-1])
                            if m and _outside_torch(m[1])][-1:]
                    where += f"; {lines[0].split('.')[0]}, made by {' '.join(made) or '?'}"
                    break
            return f"; first synchronising operation: {where} ({(str(exc).splitlines() or [''])[0]})", None


def _outside_torch(filename: str) -> bool:
    return not filename.startswith(str(Path(torch.__file__).parent))
