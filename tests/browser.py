"""Headless Chromium for the browser tests and benchmarks: Debian's ``chromium`` driven by playwright, WebGL2 in
software (SwiftShader) where there is no GPU, and a local static server for a player folder."""

from __future__ import annotations

import base64
import io
import shutil
import threading
from pathlib import Path

import numpy as np

from talkavatar.export.serve import player_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--autoplay-policy=no-user-gesture-required",
        "--no-sandbox"]


def serve(directory: Path):
    """A running local server for ``directory`` (a player folder); stop it with ``.shutdown()``."""
    server = player_server(directory, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def open_page(browser, url: str, viewport=(640, 480)):
    """(page, problems): ``problems`` collects console errors and warnings and uncaught exceptions, except the
    driver's performance notes (:func:`is_driver_performance_note`)."""
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text)
            if m.type in ("error", "warning") and not is_driver_performance_note(m.text) else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url)
    return page, problems


def is_driver_performance_note(text: str) -> bool:
    """Chromium's WebGL driver notes of kind Performance, e.g. "GL Driver Message (OpenGL, Performance,
    GL_CLOSE_PATH_NV, High): GPU stall due to ReadPixels": caused by the tests' own canvas reads
    (:func:`canvas_pixels`), printed by some Chromium builds, not an error of the page."""
    return text.startswith("[.WebGL-") and "GL Driver Message (" in text and ", Performance," in text


def canvas_pixels(page, selector: str = "#view") -> np.ndarray:
    """The canvas's pixels as float [H, W, 3] sRGB 0..255 (read through toDataURL: exactly what it shows)."""
    from PIL import Image

    data = page.evaluate(f"document.querySelector('{selector}').toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1]))).convert("RGB")).astype(float)


def psnr_in_person(want: np.ndarray, got: np.ndarray, white: float = 250.0) -> tuple[float, float]:
    """(PSNR dB inside the union of both images' non-background pixels, that mask's share of the image)."""
    person = (want.min(-1) < white) | (got.min(-1) < white)
    mse = ((want - got) ** 2)[person].mean()
    return float(10 * np.log10(255 ** 2 / max(mse, 1e-12))), float(person.mean())
