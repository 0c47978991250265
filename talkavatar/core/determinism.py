"""torch's deterministic-algorithms switch without the seconds of imports its public function costs.

``torch.use_deterministic_algorithms`` first imports ``torch._inductor.config`` (to set inductor's own flag), which
imports ``torch._inductor`` and ``torch._dynamo``: ~1.4 s of CPU in a process that otherwise never loads them (track
and fit switch determinism on for their CPU scatter-adds). Inductor's flag matters only to ``torch.compile``, which
talkavatar does not use; so while inductor is not loaded, only the operator flag is set (what the public function
sets besides), and once it is loaded the public function is called.
"""

from __future__ import annotations

import sys

import torch


def use_deterministic_algorithms(mode: bool, warn_only: bool = False) -> None:
    """As ``torch.use_deterministic_algorithms(mode, warn_only=warn_only)`` for eager torch."""
    if "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)
    else:
        torch._C._set_deterministic_algorithms(mode, warn_only=warn_only)
