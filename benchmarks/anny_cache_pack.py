"""Carry Anny's model cache to the GPU machine: pack it losslessly small here, unpack it there.

    python benchmarks/anny_cache_pack.py pack $ANNY_CACHE_DIR/v14/build_compact_model_data_*.safetensors OUT.xz
    python3 benchmarks/anny_cache_pack.py unpack OUT.xz CACHE_DIR/v14/build_compact_model_data_<same hash>.safetensors

The compact model file (241 MB of float64 blendshapes, 23 % non-zero) becomes a bit mask + the non-zero values
(63 MB), xz-compressed to 24 MB: small enough for one device call (64 MiB). The round trip gives equal values
(signed zeros become +0) and keeps the file's metadata.
"""

from __future__ import annotations

import json
import lzma
import sys
from pathlib import Path

import numpy as np

SPARSE_ABOVE = 100_000  # float64 tensors with more elements than this are stored sparsely


def pack(source: Path, target: Path) -> None:
    from safetensors import safe_open
    from safetensors.numpy import load_file, save

    with safe_open(str(source), framework="np") as f:
        metadata = f.metadata()  # Anny reads its data version from here
    packed = {}
    for name, a in load_file(str(source)).items():
        if a.dtype == np.float64 and a.size > SPARSE_ABOVE:
            nonzero = a != 0
            packed[f"{name}.mask"] = np.packbits(nonzero.ravel())
            packed[f"{name}.values"] = a[nonzero]
            packed[f"{name}.shape"] = np.array(a.shape, np.int64)
        else:
            packed[name] = a
    with lzma.open(target, "wb", preset=6) as f:
        f.write(save(packed, metadata=metadata))


def unpack(source: Path, target: Path) -> None:
    from safetensors.numpy import load, save_file

    with lzma.open(source, "rb") as f:
        data = f.read()
    packed = load(data)
    metadata = json.loads(data[8:8 + int.from_bytes(data[:8], "little")]).get("__metadata__")
    tensors = {}
    for name, a in packed.items():
        if name.endswith((".values", ".shape")):
            continue
        if name.endswith(".mask"):
            base = name[:-len(".mask")]
            shape = tuple(packed[f"{base}.shape"])
            full = np.zeros(int(np.prod(shape)), np.float64)
            full[np.unpackbits(a, count=full.size).astype(bool)] = packed[f"{base}.values"]
            tensors[base] = full.reshape(shape)
        else:
            tensors[name] = a
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(target), metadata=metadata)


if __name__ == "__main__":
    {"pack": pack, "unpack": unpack}[sys.argv[1]](Path(sys.argv[2]), Path(sys.argv[3]))
