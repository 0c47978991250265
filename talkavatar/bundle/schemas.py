"""The schemas every bundle file is validated against.

Two kinds live in ``schemas/``, one file per document type, named after the schema:
- ``NAME.json``: a JSON Schema (draft 2020-12) for a JSON document;
- ``NAME.tensors.json``: a tensor-file schema for a safetensors file: each tensor's dtype and shape (integers, or
  letters for sizes that must agree across the file's tensors), which tensors are optional, and the required
  ``__metadata__`` keys. The schema name itself is stored in ``__metadata__["schema"]``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping

import jsonschema

from talkavatar.errors import InvalidInput


def _schema_dir():
    return resources.files("talkavatar.bundle") / "schemas"


@functools.cache
def json_schema(name: str) -> dict:
    """The JSON Schema called ``name`` (e.g. ``talkavatar.bundle``)."""
    path = _schema_dir() / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"no JSON schema named {name!r}")
    return json.loads(path.read_text())


def json_schema_names() -> list[str]:
    return sorted(p.name[: -len(".json")] for p in _schema_dir().iterdir()
                  if p.name.endswith(".json") and not p.name.endswith(".tensors.json"))


def validate_json(doc: Any, schema: str, where: str) -> None:
    """Raise :class:`InvalidInput` naming the first violation of ``schema`` in ``doc`` (read from ``where``)."""
    validator = jsonschema.Draft202012Validator(json_schema(schema))
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InvalidInput(f"{where}: {at}: {error.message}", tip="the file is damaged or was not written by talkavatar")


@dataclass(frozen=True)
class TensorSpec:
    dtype: str
    shape: tuple[int | str, ...]
    description: str
    optional: bool = False


@dataclass(frozen=True)
class TensorFileSchema:
    name: str
    version: int
    description: str
    tensors: Mapping[str, TensorSpec]
    metadata: Mapping[str, str]

    def validate(self, tensors: Mapping[str, Any], metadata: Mapping[str, str], where: str) -> dict[str, int]:
        """Check names, dtypes, shapes and metadata; returns the sizes bound to the symbolic dimensions.

        ``tensors`` maps names to arrays (anything with ``.dtype`` and ``.shape``).
        """
        def fail(msg: str):
            raise InvalidInput(f"{where}: {msg}", tip="the file is damaged or was not written by talkavatar")

        if metadata.get("schema") != self.name:
            fail(f"schema is {metadata.get('schema')!r}, expected {self.name!r}")
        try:
            version = int(metadata.get("schema_version", ""))
        except ValueError:
            fail("schema_version is missing")
        if version > self.version:
            raise InvalidInput(f"{where}: schema version {version} is newer than this talkavatar reads ({self.version})",
                               tip="upgrade talkavatar")
        for key in self.metadata:
            if key not in metadata:
                fail(f"metadata key {key!r} is missing")
        unknown = set(tensors) - set(self.tensors)
        if unknown:
            fail(f"unexpected tensor(s) {sorted(unknown)}")
        sizes: dict[str, int] = {}
        for name, spec in self.tensors.items():
            if name not in tensors:
                if not spec.optional:
                    fail(f"tensor {name!r} is missing")
                continue
            array = tensors[name]
            dtype = str(array.dtype).removeprefix("torch.")
            if dtype != spec.dtype:
                fail(f"tensor {name!r} has dtype {dtype}, expected {spec.dtype}")
            shape = tuple(array.shape)
            if len(shape) != len(spec.shape):
                fail(f"tensor {name!r} has shape {list(shape)}, expected {list(spec.shape)}")
            for got, want in zip(shape, spec.shape):
                if isinstance(want, str):
                    want = sizes.setdefault(want, got)
                if got != want:
                    fail(f"tensor {name!r} has shape {list(shape)}, expected {list(spec.shape)} with {sizes}")
        return sizes


@functools.cache
def tensor_schema(name: str) -> TensorFileSchema:
    """The tensor-file schema called ``name`` (e.g. ``talkavatar.motion``)."""
    path = _schema_dir() / f"{name}.tensors.json"
    if not path.is_file():
        raise KeyError(f"no tensor schema named {name!r}")
    raw = json.loads(path.read_text())
    tensors = {k: TensorSpec(v["dtype"], tuple(v["shape"]), v["description"], v.get("optional", False))
               for k, v in raw["tensors"].items()}
    return TensorFileSchema(raw["name"], raw["version"], raw["description"], tensors, raw.get("metadata", {}))


def tensor_schema_names() -> list[str]:
    return sorted(p.name[: -len(".tensors.json")] for p in _schema_dir().iterdir() if p.name.endswith(".tensors.json"))
