"""The on-disk avatar bundle (format ``talkavatar.bundle`` v1; spec in ``man/talkavatar-bundle.5``).

Imports no torch: arrays are numpy, tensor files are safetensors, documents are JSON validated by JSON Schema.
"""

from talkavatar.bundle.schemas import tensor_schema, validate_json
from talkavatar.bundle.store import FORMAT_VERSION, STAGES, Bundle, StageWriter, sha256_file
from talkavatar.bundle.tensors import load_tensors, save_tensors

__all__ = ["Bundle", "StageWriter", "FORMAT_VERSION", "STAGES", "sha256_file", "load_tensors", "save_tensors",
           "tensor_schema", "validate_json"]
