"""core.cuda_warmup: host work on a worker thread beside this thread's CUDA warm-up; the shared perceptual network."""

import threading
import time

import pytest
import torch
from PIL import Image

from talkavatar.core.cuda_warmup import beside, warm_up
from talkavatar.core.losses import shared_distance
from talkavatar.pipeline.photo import EXIF_ORIENTATION, upright_size


def test_beside_runs_work_on_a_worker_and_warm_here():
    here = threading.get_ident()
    work_thread, result = beside(lambda: threading.get_ident(), lambda: threading.get_ident())
    assert result == here and work_thread != here


def test_beside_raises_the_work_error_after_warm_ran():
    warmed = []

    def work():
        raise ValueError("track failed")

    with pytest.raises(ValueError, match="track failed"):
        beside(work, lambda: warmed.append(True))
    assert warmed == [True]


def test_beside_raises_the_warm_error_once_work_is_done():
    done = []

    def work():
        time.sleep(0.2)
        done.append(True)
        return 1

    def warm():
        raise RuntimeError("no CUDA")

    with pytest.raises(RuntimeError, match="no CUDA"):
        beside(work, warm)
    assert done == [True]  # what the work made is kept


def test_warm_up_off_cuda_does_nothing():
    assert warm_up(torch.device("cpu"), (("never run", lambda: pytest.fail("ran off CUDA")),)) == {}


def test_shared_distance_is_built_once_per_kind_and_device():
    a = shared_distance("efficientnet", "cpu")
    assert shared_distance("efficientnet", torch.device("cpu")) is a
    x = torch.full((1, 32, 32, 3), 0.25)
    assert float(a(x, x)) == 0.0


def test_upright_size_follows_the_exif_orientation_and_skips_videos(tmp_path):
    image = Image.new("RGB", (40, 30))
    exif = image.getexif()
    image.save(tmp_path / "level.jpg")
    exif[EXIF_ORIENTATION] = 6  # stored sideways: shown turned a quarter
    image.save(tmp_path / "turned.jpg", exif=exif)
    assert upright_size(tmp_path / "level.jpg") == (40, 30)
    assert upright_size(tmp_path / "turned.jpg") == (30, 40)
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")  # not a still image: no size
    assert upright_size(tmp_path / "clip.mp4") is None


@pytest.mark.gpu
def test_warm_up_on_cuda_runs_every_step_and_captures_the_terms():
    from talkavatar.fit.objective import capture_image_terms, image_terms_graph

    device = torch.device("cuda")
    distance = shared_distance("efficientnet", device)
    seconds = warm_up(device, (("photo", lambda: capture_image_terms("photo image", (1, 48, 40), device)),
                               ("pseudo", lambda: capture_image_terms("pseudo perceptual", (2, 64, 64), device,
                                                                      distance))))
    assert list(seconds) == ["context", "cublas", "cudnn", "rasterizer", "photo", "pseudo"]
    for site, used in (("photo image", None), ("pseudo perceptual", distance)):
        assert image_terms_graph(site, used).status().startswith("graphed (1, ")


def test_fit_photo_warm_up_failure_is_a_warning(monkeypatch):
    from talkavatar.core import cuda_warmup
    from talkavatar.fit.config import FitConfig
    from talkavatar.pipeline import photo

    def broken(device, distances=()):
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(cuda_warmup, "warm_up", broken)
    warnings = []
    assert photo._warm_up(FitConfig(preset="fast"), torch.device("cuda"), (512, 512), warnings.append) == {}
    assert len(warnings) == 1 and "out of memory" in warnings[0]


def test_image_terms_graph_is_one_per_site_and_distance():
    from talkavatar.fit.objective import capture_image_terms, image_terms_graph

    distance = shared_distance("efficientnet", "cpu")
    graph = image_terms_graph("pseudo perceptual", distance)
    assert image_terms_graph("pseudo perceptual", distance) is graph
    assert image_terms_graph("photo image") is not graph and image_terms_graph("crops") is not graph
    cpu = torch.device("cpu")
    assert capture_image_terms("pseudo perceptual", (1, 32, 32), cpu, distance) == "op by op"  # off CUDA: they ran
    assert capture_image_terms("photo image", (1, 24, 20), cpu) == "op by op"
