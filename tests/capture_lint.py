"""A CPU lint of CUDA-graph capturability: runs a function on the CPU and names each operation in it that a CUDA
graph capture cannot record (a host-to-device copy of host data, a read back to the host, a shape that depends on
the data), where the code made it.

What it flags (on CUDA each is a synchronisation or a copy from pageable host memory, which capture refuses):
``t[i] = number`` into a single element or by an index tensor (torch makes the number a CPU scalar tensor and
copies it to the device; into a slice of several elements it fills the slice on the device: a kernel, not flagged),
``torch.tensor`` /
``torch.as_tensor`` of host data (``aten.lift_fresh``), ``.to(device)`` / ``.cuda()`` / ``.cpu()`` / ``.numpy()``,
``.item()`` / ``.tolist()`` / ``float(t)`` / ``bool(t)`` / ``if t`` (``aten._local_scalar_dense``), and the ops whose
output shape depends on the data (``nonzero``, ``masked_select``, ``unique``, boolean-mask indexing,
``repeat_interleave`` without ``output_size``). ``as_on_cuda`` makes ``Tensor.is_cuda`` True meanwhile, so that code
choosing its CUDA formulation by it runs that formulation on the CPU.
"""

from __future__ import annotations

import collections
import traceback
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

DATA_DEPENDENT = {"nonzero", "masked_select", "unique", "_unique", "_unique2", "unique_consecutive", "unique_dim",
                  "masked_scatter", "_local_scalar_dense", "lift_fresh", "lift_fresh_copy"}
HOST_METHODS = {"item", "tolist", "numpy", "cpu", "cuda", "__bool__", "__float__", "__int__", "__index__",
                "__format__", "__repr__", "pin_memory"}
ROOT = str(Path(__file__).resolve().parents[1] / "talkavatar")


def _where() -> str:
    """The innermost frame of the project's code on the stack: "file.py:line code"."""
    frames = [f for f in traceback.extract_stack() if f.filename.startswith(ROOT)]
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno} {frames[-1].line}" if frames else "?"


def _is_number(value) -> bool:
    return isinstance(value, (bool, int, float, complex))


def _moves_device(args, kwargs) -> bool:
    """Whether ``Tensor.to(*args, **kwargs)`` names a device (a device, its name or a tensor to match)."""
    values = [*args[1:], kwargs.get("device"), kwargs.get("other")]
    return any(isinstance(v, (torch.device, str, torch.Tensor)) for v in values)


class _Functions(TorchFunctionMode):
    """The Python-level half: method calls that read back or move data, and ``t[i] = number`` (whose kind the
    operations it makes tell: :class:`_Operations`)."""

    def __init__(self, flags: collections.Counter):
        super().__init__()
        self.flags, self.setting = flags, False

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name == "__setitem__" and isinstance(args[2], (list, tuple)):
            self.flags[f"t[i] = a sequence (a host-to-device copy) @ {_where()}"] += 1
        elif name == "__setitem__" and _is_number(args[2]):
            self.setting = True
            try:
                return func(*args, **kwargs)
            finally:
                self.setting = False
        elif name in HOST_METHODS:
            self.flags[f"Tensor.{name} @ {_where()}"] += 1
        elif name == "to" and _moves_device(args, kwargs):
            self.flags[f"Tensor.to(device) @ {_where()}"] += 1
        elif name == "repeat_interleave" and kwargs.get("output_size") is None and not _is_number(args[1]):
            self.flags[f"repeat_interleave without output_size @ {_where()}"] += 1
        return func(*args, **kwargs)


class _Operations(TorchDispatchMode):
    """The operator-level half: data-dependent shapes, reads back, tensors of host data, and what ``t[i] = number``
    becomes (``copy_`` into one element or ``index_put_``: a copy of a CPU scalar tensor; ``fill_``: a kernel)."""

    def __init__(self, functions: _Functions):
        super().__init__()
        self.functions, self.flags = functions, functions.flags

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if self.functions.setting:
            if name in ("copy_", "index_put_", "_index_put_impl_"):
                self.flags[f"t[i] = number by {name} (a host-to-device copy) @ {_where()}"] += 1
        elif name in DATA_DEPENDENT:
            self.flags[f"aten.{name} @ {_where()}"] += 1
        elif name in ("index", "index_put", "index_put_", "_index_put_impl_") and any(
                isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1] if i is not None):
            self.flags[f"aten.{name} by a boolean mask @ {_where()}"] += 1
        return func(*args, **(kwargs or {}))


@contextmanager
def capture_lint(as_on_cuda: bool = True):
    """``with capture_lint() as flags:`` run the code; ``flags`` (a Counter) then holds "what @ file:line code" ->
    count for each operation a CUDA graph capture could not record."""
    flags: collections.Counter = collections.Counter()
    if as_on_cuda:
        torch.Tensor.is_cuda = property(lambda self: True)  # over TensorBase's, until deleted
    try:
        functions = _Functions(flags)
        with functions, _Operations(functions):
            yield flags
    finally:
        if as_on_cuda:
            del torch.Tensor.is_cuda
