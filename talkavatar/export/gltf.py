"""A small glTF 2.0 binary (GLB) builder: buffer views, accessors (dense and sparse) and images in one buffer.

Only what the avatar export needs, written from the specification (Khronos glTF 2.0, section 4.4 "GLB File
Format"): a 12-byte header, a JSON chunk padded with spaces and a BIN chunk padded with zeros, both to 4 bytes;
every buffer view starts at a multiple of 4 bytes, so every accessor is aligned to its component size.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

# accessor componentType codes and the numpy dtypes they hold
COMPONENT = {np.dtype("float32"): 5126, np.dtype("uint32"): 5125, np.dtype("uint16"): 5123, np.dtype("uint8"): 5121}
TYPES = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4", 16: "MAT4"}
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
GLB_MAGIC, GLB_VERSION, JSON_CHUNK, BIN_CHUNK = 0x46546C67, 2, 0x4E4F534A, 0x004E4942


class GltfBuilder:
    """Collects a glTF document (``doc``) and its binary buffer; :meth:`glb` returns the file's bytes."""

    def __init__(self, generator: str):
        self.doc: dict[str, Any] = {"asset": {"version": "2.0", "generator": generator}, "buffers": [],
                                    "bufferViews": [], "accessors": []}
        self.blob = bytearray()

    def add(self, kind: str, item: dict) -> int:
        """Append ``item`` to the top-level array ``kind``; returns its index."""
        self.doc.setdefault(kind, []).append(item)
        return len(self.doc[kind]) - 1

    def view(self, data: bytes, target: int | None = None) -> int:
        """A buffer view over ``data`` appended to the buffer (4-byte aligned)."""
        self.blob.extend(b"\0" * (-len(self.blob) % 4))
        view = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.blob.extend(data)
        return self.add("bufferViews", view)

    def accessor(self, array: np.ndarray, *, target: int | None = None, bounds: bool = False,
                 normalized: bool = False) -> int:
        """An accessor over ``array`` [count] or [count, k] (k in 1, 2, 3, 4, 16) of a glTF component dtype.

        ``bounds`` writes ``min``/``max`` (required for POSITION and animation inputs).
        """
        array = np.ascontiguousarray(array)
        width = 1 if array.ndim == 1 else array.shape[1]
        accessor: dict[str, Any] = {"bufferView": self.view(array.tobytes(), target),
                                    "componentType": COMPONENT[array.dtype], "count": int(array.shape[0]),
                                    "type": TYPES[width]}
        if normalized:
            accessor["normalized"] = True
        if bounds:
            flat = array.reshape(array.shape[0], -1)
            accessor["min"] = [_number(x) for x in flat.min(0)]
            accessor["max"] = [_number(x) for x in flat.max(0)]
        return self.add("accessors", accessor)

    def sparse_vec3(self, values: np.ndarray, tolerance: float = 0.0) -> int:
        """A float VEC3 accessor [count, 3] stored sparsely: zeros implied, the rows above ``tolerance`` listed.

        Used for morph targets, where most vertices do not move. An all-zero array needs no data at all.
        """
        values = np.ascontiguousarray(values, dtype=np.float32)
        rows = np.nonzero(np.abs(values).max(1) > tolerance)[0].astype(np.uint32)
        kept = values[rows]
        accessor: dict[str, Any] = {"componentType": 5126, "count": int(values.shape[0]), "type": "VEC3"}
        low = kept.min(0) if len(rows) else np.zeros(3, np.float32)
        high = kept.max(0) if len(rows) else np.zeros(3, np.float32)
        accessor["min"] = [_number(x) for x in np.minimum(low, 0)]  # the implied zeros count too
        accessor["max"] = [_number(x) for x in np.maximum(high, 0)]
        if len(rows):
            accessor["sparse"] = {"count": int(len(rows)),
                                  "indices": {"bufferView": self.view(rows.tobytes()), "componentType": 5125},
                                  "values": {"bufferView": self.view(kept.tobytes())}}
        return self.add("accessors", accessor)

    def image(self, png: bytes, name: str) -> int:
        return self.add("images", {"bufferView": self.view(png), "mimeType": "image/png", "name": name})

    def glb(self) -> bytes:
        """The GLB file: header, JSON chunk, BIN chunk."""
        self.blob.extend(b"\0" * (-len(self.blob) % 4))
        doc = dict(self.doc)
        doc["buffers"] = [{"byteLength": len(self.blob)}]
        text = json.dumps(doc, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 4)
        total = 12 + 8 + len(text) + 8 + len(self.blob)
        return b"".join([struct.pack("<III", GLB_MAGIC, GLB_VERSION, total),
                         struct.pack("<II", len(text), JSON_CHUNK), text,
                         struct.pack("<II", len(self.blob), BIN_CHUNK), bytes(self.blob)])


def _number(x) -> float | int:
    return int(x) if np.issubdtype(type(x), np.integer) else float(x)
