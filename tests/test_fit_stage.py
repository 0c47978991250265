"""The fit stage on a synthetic bundle (toy rig, ground truth rendered as photo and pseudo frames): it learns,
writes a valid avatar that renders, is deterministic, resumes exactly after Ctrl-C, skips when up to date."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from talkavatar.bundle import Bundle
from talkavatar.core.avatar import Avatar
from talkavatar.core.splats import rasterize
from talkavatar.fit.config import FitConfig
from talkavatar.fit.stage import CHECKPOINT, run_fit
from tests.fit_fixtures import camera, make_bundle

SMALL = dict(preset="tiny", uv_res=20, image_size=96, crop_size=32, pseudo_size=64, pseudo_frames=4)


def quiet(_message):
    pass


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("fit") / "syn.avatar")


def _fit(root, **overrides):
    return run_fit(root, FitConfig(**{**SMALL, **overrides}), device="cpu", force=True, log=quiet, warn=quiet)


def _tensors(root):
    return Avatar.load(root / "fit").to_tensors()[0]


def test_fit_learns_and_writes_a_valid_avatar(bundle_dir):
    result = _fit(bundle_dir, iters=40)
    m = result.metrics
    assert m["input_view"]["masked_psnr_db"] > 24 and m["input_view"]["masked_ssim"] > 0.85
    assert m["iterations"] == 40 and m["pseudo_frames_used"] == 4 and m["perceptual"] in ("lpips", "efficientnet")
    assert set(m["coverage"]) == {"input", "yaw-30", "yaw+30", "pose1", "pose2"}
    bundle = Bundle.open(bundle_dir)
    doc = bundle.read_json("fit/fit.json", "talkavatar.fit")  # hash- and schema-checked
    assert doc["losses"]["history"][-1]["step"] == 40
    first, last = doc["losses"]["history"][0], doc["losses"]["history"][-1]
    assert last["photo_l1"] < first["photo_l1"]
    preview = bundle.read_png("fit/preview.png")
    assert preview.shape == (2 * 96, 5 * 96, 3)  # renders over coverage maps
    avatar = Avatar.load(bundle_dir / "fit")  # what render and eval read
    g = avatar.pose(torch.zeros(1, 55, 3), torch.zeros(1, 3), torch.zeros(1, 52))
    out = rasterize(g, camera(20.0), backend="reference")
    assert out.alpha.max() > 0.9 and torch.isfinite(out.rgb).all()


def test_same_seed_same_avatar_other_seed_differs(bundle_dir):
    _fit(bundle_dir, iters=6, seed=3)
    a = _tensors(bundle_dir)
    _fit(bundle_dir, iters=6, seed=3)
    b = _tensors(bundle_dir)
    _fit(bundle_dir, iters=6, seed=4)
    c = _tensors(bundle_dir)
    assert all((a[k] == b[k]).all() for k in a)
    assert any((a[k] != c[k]).any() for k in ("rgb", "offsets"))


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes_identically(bundle_dir, monkeypatch):
    from talkavatar.fit import objective

    _fit(bundle_dir, iters=8, seed=1)
    reference = _tensors(bundle_dir)

    calls = {"n": 0}
    original = objective.Objective.mesh_terms

    def interrupt_at_step_5(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(objective.Objective, "mesh_terms", interrupt_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        _fit(bundle_dir, iters=8, seed=1)
    assert (bundle_dir / CHECKPOINT).is_file()
    monkeypatch.setattr(objective.Objective, "mesh_terms", original)
    result = run_fit(bundle_dir, FitConfig(**SMALL, iters=8, seed=1), device="cpu", resume=True, log=quiet,
                     warn=quiet)
    assert result.metrics["iterations"] == 8
    assert not (bundle_dir / CHECKPOINT).exists()
    resumed = _tensors(bundle_dir)
    for k in reference:
        assert torch.allclose(torch.from_numpy(resumed[k]), torch.from_numpy(reference[k]), atol=1e-6), k


def test_up_to_date_fit_is_skipped_and_ablations_run(bundle_dir):
    _fit(bundle_dir, iters=4)
    again = run_fit(bundle_dir, FitConfig(**SMALL, iters=4), device="cpu", log=quiet, warn=quiet)
    assert again.skipped
    bare = _fit(bundle_dir, iters=4, pseudo_weight=0.0, mesh_weight=0.0, crop_weight=0.0)
    assert bare.metrics["pseudo_frames_used"] == 0 and bare.metrics["perceptual"] is None


def test_config_presets_and_bad_values():
    eff = FitConfig(preset="tiny").effective()
    assert eff.iters == 120 and eff.uv_res == 96
    assert FitConfig(preset="fast", iters=5).effective().iters == 5
    for bad in (dict(preset="huge"), dict(iters=0), dict(uv_res=4), dict(perceptual="vgg"), dict(warmup=1.0),
                dict(mesh_weight=-1.0)):
        with pytest.raises(ValueError):
            FitConfig(**bad)


def test_cli_fit_a_bundle_prints_json(bundle_dir):
    from talkavatar.cli import app

    result = CliRunner().invoke(app, ["fit", str(bundle_dir), "--preset", "tiny", "--iters", "3", "--uv-res", "16",
                                      "--image-size", "96", "--pseudo-size", "64", "--crop-size", "32",
                                      "--device", "cpu", "--force", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["iterations"] == 3 and "masked_psnr_db" in out["input_view"] and out["stage_seconds"]["fit"] >= 0


def test_cli_fit_missing_input_is_exit_3(tmp_path):
    from talkavatar.cli import app

    result = CliRunner().invoke(app, ["fit", str(tmp_path / "nope.png")])
    assert result.exit_code == 3


def test_pseudo_views_are_each_frame_resized(bundle_dir):
    from talkavatar.bundle import Bundle, artifacts
    from talkavatar.fit.data import load_fit_data, resize

    bundle = Bundle.open(bundle_dir)
    frames = artifacts.read_pseudo_frames(bundle, 4)
    side = 24  # the synthetic frames are 96²: shrunk (box filter), as the fast preset's 512² -> 384²
    data = load_fit_data(bundle, 32, 16, 4, side, use_pseudo=True)
    one_by_one = np.stack([resize(rgba, *data.pseudo.rgb.shape[1:3][::-1]) for rgba in frames.rgba])
    assert np.array_equal(data.pseudo.rgb.numpy(), one_by_one[..., :3])
    assert np.array_equal(data.pseudo.mask.numpy(), one_by_one[..., 3])
