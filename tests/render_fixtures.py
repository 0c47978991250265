"""Small deterministic inputs for render tests: a bundle whose fit stage holds a toy avatar, and a speech-like wav."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import torch

from talkavatar.bundle import Bundle
from talkavatar.core.avatar import Avatar
from tests.toy_body import toy_rig


def toy_avatar(uv_res: int = 16) -> Avatar:
    """The toy arm rig covered with Gaussians coloured by a UV gradient."""
    rig = toy_rig(dtype=torch.float32)
    ramp = torch.linspace(0.05, 0.95, uv_res)
    texture = torch.stack([ramp[None, :].expand(uv_res, -1), ramp[:, None].expand(-1, uv_res),
                           torch.full((uv_res, uv_res), 0.3)], dim=-1)
    return Avatar.on_surface(rig, uv_res, texture)


def toy_bundle(root: Path, uv_res: int = 16) -> Path:
    """A bundle at ``root`` with a fit stage holding :func:`toy_avatar`."""
    bundle = Bundle.create(root)
    with bundle.write_stage("fit", config={"fixture": "toy"}) as writer:
        toy_avatar(uv_res).save(writer.dir)
    return Path(root)


def speech_like_wav(path: Path, seconds: float, rate: int = 16_000, seed: int = 0) -> Path:
    """Syllable-like bursts (a voiced buzz with formants, 4 per second) with pauses, as 16-bit mono PCM."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * rate))) / rate
    pitch = 120 + 20 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    buzz = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2 * (np.sin(2 * np.pi * 0.3 * t) > -0.6)
    signal = 0.3 * buzz * envelope + 0.003 * rng.standard_normal(t.shape)
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.tobytes())
    return Path(path)
