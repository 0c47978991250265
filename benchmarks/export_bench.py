"""Export figures for issue 21: GLB/BVH/web sizes and times, the Khronos validator, independent read-backs, and the
web player in headless Chromium (load, console, parity with the Python renderer, mouth open/closed, frames/s).

    python benchmarks/export_bench.py BUNDLE SPEECH.wav --workdir DIR [--uv-res 512] [--width 720 --height 1280]

``--uv-res R`` re-covers the bundle's rig with R² UV Gaussians coloured from its baked texture (R = 512 gives the
~150k-Gaussian avatar the issue's speed target names) instead of the fitted Gaussians. ``--initial R`` needs no fit
stage: the avatar is the fit's starting point at UV R (track's rig, pseudo's texture and proxy offsets, no steps). Chromium renders WebGL2 in
software (SwiftShader) unless the machine has a GPU it can use; the table says which renderer ran.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from talkavatar.bundle import Bundle  # noqa: E402
from talkavatar.core.avatar import Avatar  # noqa: E402
from talkavatar.core.color import srgb_to_linear  # noqa: E402
from talkavatar.export.clip import Clip  # noqa: E402
from talkavatar.export.config import ExportConfig  # noqa: E402
from talkavatar.core.avatar import read_avatar  # noqa: E402
from talkavatar.bundle.atomic import write_bytes_atomic  # noqa: E402
from talkavatar.export.stage import canonical_rest_joints  # noqa: E402
from talkavatar.export.texture import bake_texture  # noqa: E402
from talkavatar.export.serve import url_of  # noqa: E402
from talkavatar.export.web import render_frame, scaled_camera, write_player  # noqa: E402
from talkavatar.motion.names import ARKIT_INDEX, ARKIT_NAMES, JOINT_INDEX, JOINT_NAMES  # noqa: E402
from tests.browser import ARGS, CHROMIUM, canvas_pixels, open_page, psnr_in_person, serve  # noqa: E402
from tests.export_readers import accessor, bvh_rotations, khronos_validator  # noqa: E402

OPEN_VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY")
BILABIALS = ("M", "B", "P")


def resampled(avatar: Avatar, resolution: int) -> Avatar:
    """The rig covered with ``resolution``² UV Gaussians coloured from the avatar's baked texture."""
    from PIL import Image

    texture = Image.fromarray(bake_texture(avatar)).resize((resolution, resolution), Image.BILINEAR)
    linear = srgb_to_linear(torch.from_numpy(np.asarray(texture) / 255.0).float())
    grown = Avatar.on_surface(avatar.rig, resolution, linear)
    return grown


def initial_avatar(bundle: Bundle, resolution: int) -> Avatar:
    """The fit stage's starting avatar at UV ``resolution`` (``AvatarParameters.initial``), without optimising."""
    from talkavatar.core.body.rig import Rig
    from talkavatar.fit.model import AvatarParameters

    rig = Rig.from_tensors(*bundle.read_tensors("track/rig.safetensors", "talkavatar.rig")).to(dtype=torch.float32)
    texture = torch.from_numpy(bundle.read_png("pseudo/texture.png")[..., :3].astype(np.float32) / 255)
    proxy, _ = bundle.read_tensors("pseudo/proxy.safetensors", "talkavatar.proxy")
    with torch.no_grad():
        params = AvatarParameters.initial(rig, resolution, texture, torch.from_numpy(proxy["vertex_offsets"]))
        return params.avatar()


def phone_times(result, names) -> list[float]:
    return [p.centre for p in result.phones if p.phone in names and p.end - p.start >= 0.06]


def glb_figures(avatar, clip, out: Path, audio_seconds: float) -> dict:
    import pygltflib
    import trimesh
    from talkavatar.export.glb import avatar_glb

    t0 = time.perf_counter()
    write_bytes_atomic(out, avatar_glb(avatar, clip))
    seconds = time.perf_counter() - t0
    report = khronos_validator(out)
    gltf = pygltflib.GLTF2().load(str(out))
    times = accessor(gltf, gltf.animations[0].samplers[0].input)[:, 0]
    scene = trimesh.load(out, force="scene")
    error = four_weight_error(gltf, avatar, clip)
    return {"glb MB": out.stat().st_size / 1e6, "glb export s": seconds,
            "validator errors/warnings": None if report is None else
            f"{report['issues']['numErrors']}/{report['issues']['numWarnings']}",
            "joints": len(gltf.skins[0].joints), "morph targets": len(gltf.meshes[0].primitives[0].targets),
            "morph names = ARKit": gltf.meshes[0].extras["targetNames"] == list(ARKIT_NAMES),
            "animation s / audio s": f"{times[-1]:.4f} / {audio_seconds:.4f}",
            "trimesh vertices": sum(len(g.vertices) for g in scene.geometry.values()),
            "glb skinning vs rig, max / mean mm": f"{error.max() * 1e3:.2f} / {error.mean() * 1e3:.3f}"}


def four_weight_error(gltf, avatar, clip, keys: int = 5) -> np.ndarray:
    """|glTF skinning of the GLB (4 weights, spec maths) - the rig's own posing (all weights)| per vertex, metres,
    at ``keys`` evenly spaced keys."""
    from talkavatar.core.skinning import apply_transforms
    from talkavatar.export.mesh import SkinnedMesh
    from tests.export_readers import skinned_vertices

    source = SkinnedMesh.of(avatar).source
    errors = []
    for key in np.linspace(0, clip.keys - 1, keys).astype(int):
        poses = [torch.from_numpy(getattr(clip, k)[key:key + 1]).double()
                 for k in ("joint_rotations", "root_translation", "arkit_weights")]
        rig = avatar.rig.to("cpu", torch.float64)
        posed = rig.pose(*poses)
        rest = rig.rest_vertices(poses[2]) + avatar.vertex_offsets.detach().double()
        want = apply_transforms(posed.vertex_transforms, rest)[0].numpy()[source]
        errors.append(np.linalg.norm(skinned_vertices(gltf, key) - want, axis=1))
    return np.concatenate(errors)


def bvh_figures(avatar, motion, out: Path) -> dict:
    from scipy.spatial.transform import Rotation
    from talkavatar.export.bvh import bvh_text

    t0 = time.perf_counter()
    write_bytes_atomic(out, bvh_text(motion, canonical_rest_joints(avatar)).encode())
    seconds = time.perf_counter() - t0
    matrices, _, _ = bvh_rotations(out, JOINT_NAMES)
    want = Rotation.from_rotvec(motion.joint_rotations.reshape(-1, 3).astype(float)).as_matrix()
    relative = np.swapaxes(matrices.reshape(-1, 3, 3), -1, -2) @ want
    angle = np.degrees(np.arccos(np.clip((np.trace(relative, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    return {"bvh MB": out.stat().st_size / 1e6, "bvh export s": seconds, "bvh max angle error deg": angle.max()}


def face_camera(avatar, clip, key: int, camera: dict) -> dict:
    """A close-up of the head at key ``key``: the player's intrinsics, 0.55 m in front of the head joint."""
    poses = [torch.from_numpy(getattr(clip, k)[key:key + 1]) for k in ("joint_rotations", "root_translation",
                                                                        "arkit_weights")]
    with torch.no_grad():
        head = avatar.rig.pose(*poses).canonical_joints[0, JOINT_INDEX["head"]].double().numpy()
    eye = head + np.array([0.0, 0.02, 0.55])
    w2c = np.eye(4)
    w2c[:3, :3] = np.diag([1.0, -1.0, -1.0])
    w2c[:3, 3] = -w2c[:3, :3] @ eye
    return {**camera, "world_to_camera": w2c.reshape(-1).tolist()}


def mouth_openness(image: np.ndarray) -> tuple[float, float]:
    """(dark share, teeth share) in the mouth box of a head close-up (rows 66-80 %, columns 30-70 %): an open mouth
    shows its dark cavity (luminance < 90/255) and teeth (bright, unsaturated); closed lips show neither."""
    h, w = image.shape[:2]
    box = image[int(0.66 * h):int(0.80 * h), int(0.30 * w):int(0.70 * w)]
    lum, sat = box.mean(-1), box.max(-1) - box.min(-1)
    return float((lum < 90).mean()), float(((lum > 200) & (sat < 40)).mean())


def browser_figures(workdir: Path, avatar, clip, result, speech: Path, config: ExportConfig, scale: float) -> dict:
    from playwright.sync_api import sync_playwright

    player = workdir / "player"
    t0 = time.perf_counter()
    write_player(player, avatar, clip, speech, config, log=lambda m: None)
    figures = {"web export s": time.perf_counter() - t0,
               "web MB": sum(p.stat().st_size for p in player.rglob("*") if p.is_file()) / 1e6}
    doc = json.loads((player / "avatar.json").read_text())
    vowel, bilabial = phone_times(result, OPEN_VOWELS), phone_times(result, BILABIALS)
    server = serve(player)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page, problems = open_page(browser, url_of(server) + f"?t=1.0&scale={scale}",
                                       viewport=(config.width // 2 + 40, config.height // 2 + 80))
            t0 = time.perf_counter()
            page.wait_for_function("window.talkavatar.ready || window.talkavatar.error", timeout=600_000)
            figures["page load to first frame s"] = time.perf_counter() - t0
            page.screenshot(path=str(workdir / "page.png"))
            figures["renderer"] = page.evaluate(
                "(() => { const gl = document.getElementById('view').getContext('webgl2');"
                " const i = gl.getExtension('WEBGL_debug_renderer_info');"
                " return i ? gl.getParameter(i.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER); })()")
            key = page.evaluate("window.talkavatar.key")
            got = canvas_pixels(page)
            camera = scaled_camera(doc["camera"], scale)
            want = render_frame(avatar, clip, key, camera).astype(float)
            figures["parity PSNR dB (t=1.0 s, person mask)"], figures["person share"] = psnr_in_person(want, got)
            _save_pair(workdir / "parity.png", want, got)
            for name, times in (("open vowel", vowel), ("bilabial", bilabial)):
                if not times:
                    continue
                t = times[0]
                key = int(np.searchsorted(clip.times, t + 1e-6) - 1)
                camera = face_camera(avatar, clip, key, scaled_camera(doc["camera"], scale))
                page.evaluate(f"window.talkavatar.seek({clip.times[key]}); "
                              f"window.talkavatar.setView({json.dumps(camera['world_to_camera'])})")
                page.wait_for_function(f"window.talkavatar.key === {key}", timeout=600_000)
                page.wait_for_timeout(500)
                got = canvas_pixels(page)
                want = render_frame(avatar, clip, key, camera).astype(float)
                _save_pair(workdir / f"mouth-{name.replace(' ', '-')}.png", want, got)
                figures[f"{name} t s / jawOpen"] = f"{clip.times[key]:.2f} / " \
                    f"{clip.arkit_weights[key, ARKIT_INDEX['jawOpen']]:.2f}"
                figures[f"{name} mouth dark, teeth share python / browser"] = \
                    "{:.3f}, {:.3f} / {:.3f}, {:.3f}".format(*mouth_openness(want), *mouth_openness(got))
                figures[f"{name} close-up PSNR dB"] = psnr_in_person(want, got)[0]
            page.evaluate("window.talkavatar.resetView()")
            for name, view in (("scaled", page), ("full size", None)):
                if view is None:
                    view, more = open_page(browser, url_of(server), viewport=(config.width + 40, config.height + 80))
                    view.wait_for_function("window.talkavatar.ready || window.talkavatar.error", timeout=600_000)
                    problems += more
                bench = view.evaluate("window.talkavatar.bench(10)")
                figures[f"player frames/s {bench['width']}x{bench['height']} (sort+skin+splat, gl.finish)"] = \
                    bench["fps"]
            figures["console problems"] = len(problems)
            browser.close()
    finally:
        server.shutdown()
    return figures


def three_js_figures(workdir: Path, glb: Path) -> dict:
    """three.js's GLTFLoader on the GLB in the same Chromium: what it finds, and a picture (three-js.png)."""
    import shutil
    from playwright.sync_api import sync_playwright

    site = workdir / "three-site"
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir()
    shutil.copyfile(glb, site / "avatar.glb")
    shutil.copyfile(ROOT / "tests" / "glb_page.html", site / "index.html")
    (site / "avatar.json").write_text("{}")
    (site / "three").symlink_to(ROOT / "tests" / "node_modules" / "three")
    server = serve(site)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page, problems = open_page(browser, url_of(server))
            page.wait_for_function("window.result !== undefined", timeout=600_000)
            result = page.evaluate("window.result")
            page.screenshot(path=str(workdir / "three-js.png"))
            browser.close()
    finally:
        server.shutdown()
    return {"three.js morphs / bones / clip s": f"{result.get('morphs')} / {result.get('bones')} / "
                                                 f"{result.get('duration', 0):.4f}",
            "three.js console problems": len(problems)}


def _save_pair(path: Path, want: np.ndarray, got: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(np.concatenate([want, got], 1).astype(np.uint8)).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("speech", type=Path)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--uv-res", type=int, default=None)
    parser.add_argument("--initial", type=int, default=None)
    parser.add_argument("--width", type=int, default=720)
    parser.add_argument("--height", type=int, default=1280)
    parser.add_argument("--scale", type=float, default=0.5, help="player ?scale= for the parity and mouth checks")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    from talkavatar.audio.drive import drive_audio

    bundle = Bundle.open(args.bundle)
    if args.initial:
        avatar = initial_avatar(bundle, args.initial)
    else:
        avatar = read_avatar(bundle, by="benchmark").to("cpu", torch.float32)
    if args.uv_res:
        avatar = resampled(avatar, args.uv_res)
    result = drive_audio(args.speech, fps=30.0)
    clip = Clip.of(result.motion, result.seconds)
    figures = {"gaussians": avatar.count, "rig vertices": int(avatar.rig.vertices.shape[0]),
               "bones": int(avatar.rig.joints.shape[0]), "speech s": result.seconds}
    figures.update(glb_figures(avatar, clip, args.workdir / "avatar.glb", result.seconds))
    figures.update(three_js_figures(args.workdir, args.workdir / "avatar.glb"))
    figures.update(bvh_figures(avatar, result.motion, args.workdir / "talk.bvh"))
    figures.update(browser_figures(args.workdir, avatar, clip, result, args.speech,
                                   ExportConfig(width=args.width, height=args.height), args.scale))
    print("| figure | value |\n|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value:.4g} |" if isinstance(value, float) else f"| {name} | {value} |")
    (args.workdir / "figures.json").write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
