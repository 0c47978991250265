"""talkavatar.core.device: cuDNN switched for a block (the fit stage's convolutions run without it on CUDA)."""

import pytest
import torch

from talkavatar.core.device import cudnn_enabled


@pytest.mark.parametrize("before", [True, False])
def test_cudnn_enabled_sets_the_flag_and_restores_it(before):
    torch.backends.cudnn.enabled = before
    try:
        with cudnn_enabled(not before):
            assert torch.backends.cudnn.enabled is (not before)
        assert torch.backends.cudnn.enabled is before
        with pytest.raises(RuntimeError), cudnn_enabled(not before):
            raise RuntimeError("a failing block")
        assert torch.backends.cudnn.enabled is before
    finally:
        torch.backends.cudnn.enabled = True
