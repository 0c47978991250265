"""safetensors files with a schema: validated on write and on read, never pickled.

Arrays are numpy on this side (the bundle layer imports no torch); stages convert with ``torch.from_numpy``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

from talkavatar.bundle.atomic import write_bytes_atomic
from talkavatar.bundle.schemas import tensor_schema
from talkavatar.errors import InvalidInput


def save_tensors(path: Path, tensors: Mapping[str, np.ndarray], schema: str,
                 metadata: Mapping[str, str] | None = None) -> None:
    """Validate ``tensors`` against ``schema`` and write them atomically to ``path``.

    ``metadata`` values must be strings; ``schema`` and ``schema_version`` are added.
    """
    spec = tensor_schema(schema)
    meta = {**(metadata or {}), "schema": spec.name, "schema_version": str(spec.version)}
    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    spec.validate(arrays, meta, where=str(path))
    write_bytes_atomic(Path(path), canonical(save(arrays, metadata=meta)))


def canonical(blob: bytes) -> bytes:
    """The same safetensors file with its JSON header's keys sorted, so that equal tensors and metadata give equal
    bytes: the library writes ``__metadata__`` in hash order, which changes from process to process. The data
    section and its offsets stay as they are; the header stays padded to 8 bytes."""
    size = int.from_bytes(blob[:8], "little")
    header = json.dumps(json.loads(blob[8:8 + size]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return len(header).to_bytes(8, "little") + header + blob[8 + size:]


def load_tensors(path: Path, schema: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read and validate a tensor file; returns ``(tensors, metadata)``."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="numpy") as f:
            metadata = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise InvalidInput(f"{path}: not a readable safetensors file ({e})") from None
    tensor_schema(schema).validate(tensors, metadata, where=str(path))
    return tensors, metadata
