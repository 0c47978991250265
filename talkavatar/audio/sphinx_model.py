"""The context-independent part of pocketsphinx's bundled en-us acoustic model, read from its Sphinx-3 files.

The model is phonetically tied (``-model ptm``): each of the 42 base phones owns one codebook of 128 diagonal
Gaussians per feature stream (3 streams of 13: cepstra, deltas, double deltas), and each of its 3 emitting states
(a senone) mixes that codebook with its own weights. Only the 126 context-independent senones are read. Files:

- ``mdef`` (binary "BMDF"): phone names, and for each base phone its senone sequence and transition matrix.
- ``means`` / ``variances`` (Sphinx-3 ``s3`` Gaussian files): ``[codebook, stream, density, 13]`` float32.
- ``sendump``: mixture weights as bytes ``q = -log_1.0001(w) >> 10``, laid out ``[stream, density, senone]``.
- ``transition_matrices`` (``s3``): ``[phone, 3, 4]`` transition counts (normalised here).

Everything is converted to natural logarithms.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pocketsphinx


VARIANCE_FLOOR = 1e-4            # pocketsphinx's -varfloor
MIXTURE_WEIGHT_FLOOR = 1e-7      # pocketsphinx's -mixwfloor
SENDUMP_LOG_BASE = 1.0001        # pocketsphinx's -logbase
SENDUMP_SHIFT = 10               # bits dropped when the weights were quantised to bytes
STREAMS = ((0, 13), (13, 26), (26, 39))   # -svspec 0-12/13-25/26-38


@dataclass(frozen=True)
class PhoneModel:
    """CI phone HMMs of the en-us model.

    ``phones [P]`` names; ``means, precisions [S, P, D, 13]`` per stream S, phone codebook P, density D
    (precision = 1 / variance); ``log_norm [S, P, D]`` Gaussian log normalisers; ``log_weights [S, P, 3, D]``
    per stream, phone, emitting state; ``log_transitions [P, 3, 4]`` (state -> same, next; column 3 = exit).
    """

    phones: tuple[str, ...]
    means: np.ndarray
    precisions: np.ndarray
    log_norm: np.ndarray
    log_weights: np.ndarray
    log_transitions: np.ndarray

    def index(self, phone: str) -> int:
        return self.phones.index(phone)


def model_dir() -> Path:
    """The pocketsphinx package's bundled ``en-us`` folder."""
    return Path(pocketsphinx.get_model_path()) / "en-us"


def _s3_array(path: Path, dims: int) -> np.ndarray:
    """The float32 payload of a Sphinx-3 ``s3`` parameter file with ``dims`` leading int32 dimensions."""
    data = path.read_bytes()
    body = data.index(b"endhdr\n") + len(b"endhdr\n")
    magic, = struct.unpack_from("<i", data, body)
    if magic != 0x11223344:
        raise ValueError(f"{path}: unexpected byte order marker {magic:#x}")
    shape = struct.unpack_from(f"<{dims}i", data, body + 4)
    return shape, data, body + 4 + 4 * dims


def _gaussians(path: Path) -> np.ndarray:
    """``[codebook, stream, density, 13]`` from a means/variances file (all streams 13 wide here)."""
    (n_cb, n_streams, n_dens), data, at = _s3_array(path, 3)
    widths = struct.unpack_from(f"<{n_streams}i", data, at)
    total, = struct.unpack_from("<i", data, at + 4 * n_streams)
    if set(widths) != {13} or total != n_cb * n_dens * sum(widths):
        raise ValueError(f"{path}: unexpected stream widths {widths}")
    values = np.frombuffer(data, "<f4", count=total, offset=at + 4 * n_streams + 4)
    return values.reshape(n_cb, n_streams, n_dens, 13).astype(np.float64)


def _mdef(path: Path) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """``(phone names, senone ids [P, 3], transition matrix ids [P])`` of the base phones in a binary mdef."""
    data = path.read_bytes()
    if not data.startswith(b"BMDF"):
        raise ValueError(f"{path}: not a binary model definition")
    version, text_bytes = struct.unpack_from("<2i", data, 4)      # then the format description text
    at = 12 + text_bytes
    (n_ci, n_phone, n_emit, n_ci_sen, n_sen, n_tmat, n_sseq, n_ctx, n_cd_tree, sil) = struct.unpack_from("<10i", data,
                                                                                                         at)
    at += 40
    names = []
    for _ in range(n_ci):
        end = data.index(b"\x00", at)
        names.append(data[at:end].decode("ascii"))
        at = end + 1
    at = (at + 3) // 4 * 4
    at += 8 * n_cd_tree
    phones = np.frombuffer(data, np.dtype([("ssid", "<i4"), ("tmat", "<i4"), ("attr", "i1", 4)]), count=n_phone,
                           offset=at)
    # The senone sequences (homogeneous: no length table) end the file; a 4-byte word precedes them.
    sseq = np.frombuffer(data, "<i2", count=n_sseq * n_emit,
                         offset=len(data) - 2 * n_sseq * n_emit).reshape(n_sseq, n_emit)
    ci = phones[:n_ci]
    if n_emit != 3 or names[sil] != "SIL":
        raise ValueError(f"{path}: unexpected model layout")
    return tuple(names), sseq[ci["ssid"]].astype(int), ci["tmat"].astype(int)


def _ci_mixture_weights(path: Path, senones: np.ndarray) -> np.ndarray:
    """Natural-log mixture weights ``[stream, senone (of ``senones``), density]`` from a ``sendump`` file."""
    data = path.read_bytes()
    at = 0
    while True:                                   # header: length-prefixed strings, ended by a zero length
        n, = struct.unpack_from("<i", data, at)
        at += 4
        if n == 0:
            break
        text = data[at:at + n - 1].decode("ascii", "replace")
        if text.startswith("cluster_count") and int(text.split()[1]) != 0:
            raise ValueError(f"{path}: clustered (4-bit) mixture weights are not supported")
        at += n
    rows, cols = struct.unpack_from("<2i", data, at)
    at += 8
    count = len(data) - at
    streams = count // (rows * cols)
    q = np.frombuffer(data, np.uint8, count=streams * rows * cols, offset=at).reshape(streams, rows, cols)
    log_w = -(q[:, :, senones].astype(np.float64) * (1 << SENDUMP_SHIFT)) * np.log(SENDUMP_LOG_BASE)
    return np.maximum(log_w, np.log(MIXTURE_WEIGHT_FLOOR)).transpose(0, 2, 1)     # [S, senones, D]


@lru_cache(maxsize=1)
def load_phone_model() -> PhoneModel:
    """The bundled en-us model's CI phones (read once per process, ~20 ms)."""
    root = model_dir() / "en-us"
    phones, senones, tmat_ids = _mdef(root / "mdef")
    means = _gaussians(root / "means")                                 # [P, S, D, 13]
    variances = np.maximum(_gaussians(root / "variances"), VARIANCE_FLOOR)
    log_norm = -0.5 * (np.log(2 * np.pi * variances)).sum(-1)          # [P, S, D]
    log_w = _ci_mixture_weights(root / "sendump", senones.reshape(-1))  # [S, P*3, D]
    log_w = log_w.reshape(log_w.shape[0], len(phones), 3, -1)
    (n_tmat, rows, cols), data, at = _s3_array(root / "transition_matrices", 3)
    counts = np.frombuffer(data, "<f4", count=n_tmat * rows * cols, offset=at + 4).reshape(n_tmat, rows, cols)
    probs = counts / counts.sum(axis=2, keepdims=True)
    with np.errstate(divide="ignore"):
        log_t = np.log(probs[tmat_ids].astype(np.float64))
    return PhoneModel(phones, means.transpose(1, 0, 2, 3).copy(), (1.0 / variances).transpose(1, 0, 2, 3).copy(),
                      log_norm.transpose(1, 0, 2).copy(), log_w, log_t)
