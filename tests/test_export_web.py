"""The web player and the GLB in real headless Chromium (Debian's ``chromium``, driven by playwright).

Skipped, with the reason, where Chromium, playwright or ``tests/node_modules`` (``npm ci --prefix tests``) are
absent; ``.ci/run`` installs all three. WebGL2 runs in software (SwiftShader) on machines without a GPU.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from talkavatar.bundle import Bundle
from talkavatar.export.clip import Clip
from talkavatar.export.config import ExportConfig
from talkavatar.export.serve import url_of
from talkavatar.core.avatar import read_avatar
from talkavatar.export.stage import run_export
from talkavatar.export.web import render_frame
from tests.browser import ARGS, CHROMIUM, canvas_pixels, open_page, psnr_in_person, serve
from tests.export_readers import VALIDATOR
from tests.render_fixtures import speech_like_wav, toy_bundle
from tests.test_export import waving_motion

THREE = VALIDATOR.parent / "three"
SIZE = (192, 256)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (extra test)")
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def player(tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    bundle = toy_bundle(root / "toy.avatar")
    audio = speech_like_wav(root / "talk.wav", 1.0)
    out = root / "player"
    run_export(bundle, ExportConfig(width=SIZE[0], height=SIZE[1]), out, motion=waving_motion(), seconds=1.0,
               audio=audio, log=lambda m: None)
    return bundle, out


def test_player_matches_the_python_renderer_and_plays(browser, player):
    bundle, out = player
    server = serve(out)
    try:
        page, problems = open_page(browser, url_of(server) + "?t=0.5")
        page.wait_for_function("window.talkavatar.ready || window.talkavatar.error", timeout=120_000)
        assert page.evaluate("window.talkavatar.error") is None
        got = canvas_pixels(page)
        doc = json.loads((out / "avatar.json").read_text())
        avatar = read_avatar(Bundle.open(bundle), by="test").to("cpu", torch.float32)
        clip = Clip.of(waving_motion(), 1.0)
        key = page.evaluate("window.talkavatar.key")
        assert clip.times[key] == pytest.approx(0.5)
        want = render_frame(avatar, clip, key, doc["camera"]).astype(float)
        psnr, share = psnr_in_person(want, got)
        assert share > 0.05  # a non-empty avatar on screen
        assert psnr >= 20.0, psnr

        page.evaluate("window.talkavatar.play()")
        page.wait_for_function("window.talkavatar.time > 0.6", timeout=30_000)
        page.evaluate("window.talkavatar.pause()")  # the shown time is the audio's clock when paused
        page.wait_for_timeout(300)
        shown, sound = page.evaluate("[window.talkavatar.time, window.talkavatar.audio.currentTime]")
        assert shown > 0.6 and abs(sound - shown) < 0.05
        assert clip.times[page.evaluate("window.talkavatar.key")] == pytest.approx(np.floor(shown * 24 + 1e-6) / 24)
        page.evaluate("window.talkavatar.play()")
        page.wait_for_function("!window.talkavatar.playing", timeout=30_000)  # stops at the end of the audio
        assert page.evaluate("window.talkavatar.time") == pytest.approx(1.0, abs=0.05)
        before = canvas_pixels(page)
        page.evaluate("window.talkavatar.orbit(1.2, 0.3, 1.0)")
        page.wait_for_timeout(300)
        assert np.abs(canvas_pixels(page) - before).mean() > 1.0  # the orbit turned the view
        assert problems == [], problems
    finally:
        server.shutdown()


def test_view_serves_a_player(player):
    _, out = player
    import sys

    process = subprocess.Popen([sys.executable, "-m", "talkavatar", "view", str(out), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/index.html")
        with urllib.request.urlopen(url, timeout=30) as response:
            assert b"player.js" in response.read()
        with urllib.request.urlopen(url.replace("index.html", "avatar.json"), timeout=30) as response:
            assert json.loads(response.read())["format"] == "talkavatar.player"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_three_js_loads_the_glb(browser, tmp_path):
    if not THREE.is_dir():
        pytest.skip("tests/node_modules/three missing (npm ci --prefix tests)")
    bundle = toy_bundle(tmp_path / "toy.avatar")
    site = tmp_path / "site"
    site.mkdir()
    run_export(bundle, ExportConfig(), site / "avatar.glb", motion=waving_motion(), log=lambda m: None)
    shutil.copyfile(Path(__file__).parent / "glb_page.html", site / "index.html")
    (site / "avatar.json").write_text("{}")  # what player_server looks for; the page does not read it
    (site / "three").symlink_to(THREE)
    server = serve(site)
    try:
        page, problems = open_page(browser, url_of(server))
        page.wait_for_function("window.result !== undefined", timeout=120_000)
        result = page.evaluate("window.result")
        assert "error" not in result, result
        assert result["morphs"] == 52 and "jawOpen" in result["names"] and result["bones"] == 3
        assert result["duration"] == pytest.approx(1.0, abs=1e-4)
        assert (canvas_pixels(page, "canvas").min(-1) < 250).mean() > 0.01  # the mesh is drawn
        assert problems == [], problems
    finally:
        server.shutdown()
