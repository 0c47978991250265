"""Does a fitted avatar's mouth show an inner-lip gap that FaceMesh sees when the jaw opens? (issue 16's lip check)

    python benchmarks/mouth_closeup.py BUNDLE [BUNDLE ...] [--jaw 0,0.15,0.3,0.5,1] [--size 256] [--sheet SHEET.png]
        [--json FILE] [--device cpu] [--initial UV] [--rebuild-mouth] [--yaws 0,45,-45]

For each fitted bundle: the avatar in the relaxed rest pose with ARKit ``jawOpen`` at each ``--jaw`` value (the
other channels 0; speech drives jawOpen at median 0.12, 90th percentile 0.4: `talkavatar drive-audio` on the
LibriVox clip of benchmarks/presentable_video.py), seen from the front of the face (yaw 0) and from yaw +-45
degrees (``--yaws``; + towards the body's left, as ``render --yaw``), in a square close-up of the head (``--size`` px, the face ~55 % of it: what the presentable-video check's
crop gives FaceMesh). On each image, independently of the project (MediaPipe FaceMesh, static mode, refined
landmarks, as benchmarks/presentable_video.py):

- ``gap``: the inner-lip gap (points 13-14) / the outer eye corners' distance (33-263), the figure the video check
  correlates with the speech (``nan``: no face found);
- ``geom``: the same ratio from the rig itself (the lower lip's midline moved by ``jawOpen`` / the rig's eye
  corners): how far the geometry opens, whatever the colours;
- ``dark``: the mean luminance inside FaceMesh's inner-lip contour / that of the cheeks (< 1: the opening is darker
  than the skin, as a real mouth's is);
- ``slope``: (gap at jaw SPEECH_JAW - gap at the first jaw) / (the same of geom), in speech's range (the jaw value
  nearest SPEECH_JAW): 1 = FaceMesh sees all of the opening; 0 = none of it.

``--initial UV``: the avatar the fit starts from (completed pseudo texture, known mouth colours, nothing learned) at
that UV resolution instead of the fitted one; ``--rebuild-mouth``: the mouth interior placed and coloured again by
the current code (a bundle made before a change keeps its own). Writes a contact sheet (rows: bundle x view;
columns: jaw values; each tile the render with FaceMesh's inner lip drawn in green) and prints a markdown table
(per view: gap / geom / dark at each jaw, and the slope), last.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LIPS, EYES = (13, 14), (33, 263)
INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
CHEEKS = (50, 280)
YAWS = (0.0, 45.0, -45.0)
FACE_SHARE = 0.55  # the face's height / the tile's side
SPEECH_JAW = 0.3  # a loud syllable's jawOpen


def mouth_geometry(rig) -> dict[str, np.ndarray]:
    """Rest-pose lip and eye points of the rig: {'lower': [V] bool lower-lip midline vertices, 'eyes': [2, V] bool}."""
    from talkavatar.core.body.mouth import mouth_landmarks
    from talkavatar.motion.names import ARKIT_INDEX

    v = rig.vertices.double().cpu().numpy()
    marks = mouth_landmarks(rig)
    jaw = rig.expression_blendshapes[ARKIT_INDEX["jawOpen"]].double().cpu().numpy()
    mag = np.linalg.norm(jaw, axis=1)
    mid = np.abs(v[:, 0]) < 0.006
    lower = mid & (mag > 0.5 * mag.max()) & (v[:, 2] > marks["z_front"] - 0.02)
    blink = rig.expression_blendshapes[ARKIT_INDEX["eyeBlinkLeft"]].norm(dim=-1).cpu().numpy()
    lids = blink > 0.5 * blink.max()
    y_eye = v[lids, 1].mean()
    band = lids | (np.abs(v[:, 1] - y_eye) < 0.01) & (v[:, 2] > v[lids, 2].min())
    outer = [band & (v[:, 0] < 0) & (v[:, 0] <= np.percentile(v[band & (v[:, 0] < 0), 0], 3)),
             band & (v[:, 0] > 0) & (v[:, 0] >= np.percentile(v[band & (v[:, 0] > 0), 0], 97))]
    return {"lower": lower, "eyes": np.stack(outer), "jaw": marks["jaw"]}


def poses(jaws: list[float], device):
    """Relaxed rest pose [J, 55, 3], [J, 3] and ARKit weights [J, 52] with jawOpen = each of ``jaws``."""
    import torch

    from talkavatar.motion.library.anatomy import channels_to_motion
    from talkavatar.motion.names import ARKIT_INDEX

    motion = channels_to_motion({}, len(jaws), 30.0)
    jr, rt, aw = (torch.from_numpy(np.asarray(a)).float().to(device) for a in
                  (motion.joint_rotations, motion.root_translation, motion.arkit_weights))
    aw = aw.clone()
    aw[:, ARKIT_INDEX["jawOpen"]] = torch.tensor(jaws, device=device)
    return jr, rt, aw


def head_cameras(posed_vertices, geometry: dict, size: int, device, yaws=YAWS):
    """Close-up cameras (one per yaw of ``yaws``, degrees) looking at the posed face: [len(yaws) cameras] over
    ``size`` px squares."""
    import torch

    from talkavatar.core.cameras import Cameras

    v = posed_vertices
    eyes = torch.stack([v[torch.from_numpy(m).to(device)].mean(0) for m in geometry["eyes"]])
    mouth = v[torch.from_numpy(geometry["lower"]).to(device)].mean(0)
    centre = (eyes.mean(0) + mouth) / 2
    face_height = 2.6 * float((eyes.mean(0) - mouth).norm())  # brow to chin ~ 2.6 x eyes-to-mouth
    fov = 30.0
    distance = face_height / FACE_SHARE / 2 / np.tan(np.radians(fov / 2))
    yaw = torch.deg2rad(torch.tensor(yaws, device=device))
    eye = centre + distance * torch.stack([torch.sin(yaw), torch.zeros_like(yaw), torch.cos(yaw)], -1)
    return Cameras.look_at(eye, centre.expand_as(eye), width=size, height=size, fov_y_degrees=fov)


def facemesh_figures(mesh, image: np.ndarray) -> dict:
    """FaceMesh on one uint8 image: gap, dark ratio and the inner-lip polygon (pixels), or nans."""
    result = mesh.process(np.ascontiguousarray(image))
    if not result.multi_face_landmarks:
        return {"gap": float("nan"), "dark": float("nan"), "lip": None}
    h, w = image.shape[:2]
    p = np.array([(q.x * w, q.y * h) for q in result.multi_face_landmarks[0].landmark])
    gap = float(np.linalg.norm(p[LIPS[0]] - p[LIPS[1]]) / max(np.linalg.norm(p[EYES[0]] - p[EYES[1]]), 1e-6))
    import cv2

    lum = image.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722]) / 255
    inside = np.zeros((h, w), np.uint8)
    cv2.fillPoly(inside, [np.round(p[list(INNER_LIP)]).astype(np.int32)], 1)
    radius = max(2, int(0.04 * np.ptp(p[:, 0])))
    yy, xx = np.mgrid[:h, :w]
    cheek = np.zeros((h, w), bool)
    for i in CHEEKS:
        cheek |= (xx - p[i, 0]) ** 2 + (yy - p[i, 1]) ** 2 <= radius ** 2
    dark = float(lum[inside > 0].mean() / max(lum[cheek].mean(), 1e-6)) if inside.sum() >= 3 else float("nan")
    return {"gap": gap, "dark": dark, "lip": p[list(INNER_LIP)]}


def geometric_gap(posed_vertices, rest_vertices, geometry: dict, camera) -> float:
    """The lower lip's midline opening (posed minus the jaw-closed rest, projected) / the projected eye distance."""
    import torch

    lower = torch.from_numpy(geometry["lower"]).to(posed_vertices.device)
    eyes = [torch.from_numpy(m).to(posed_vertices.device) for m in geometry["eyes"]]
    px = lambda pts: camera.project(pts)[0][0]  # noqa: E731
    moved = px(torch.stack([posed_vertices[lower].mean(0), rest_vertices[lower].mean(0)]))
    e = px(torch.stack([posed_vertices[eyes[0]].mean(0), posed_vertices[eyes[1]].mean(0)]))
    return float((moved[0] - moved[1]).norm() / (e[0] - e[1]).norm())


def load_avatar(bundle_path: Path, initial_uv: int | None):
    """The bundle's fitted avatar, or (``initial_uv``) the avatar the fit starts from at that UV resolution: the
    completed pseudo texture and the mouth interior's colours on the proxy surface, nothing learned."""
    from talkavatar.bundle.store import Bundle
    from talkavatar.render.stage import open_bundle

    if initial_uv is None:
        return open_bundle(bundle_path)[1]
    import torch

    from talkavatar.fit.data import load_fit_data
    from talkavatar.fit.model import AvatarParameters

    data = load_fit_data(Bundle.open(bundle_path), 256, 64, 1, 64, use_pseudo=False)
    with torch.no_grad():
        return AvatarParameters.initial(data.rig, initial_uv, data.texture, data.proxy_offsets).avatar()


def rebuilt_mouth(avatar):
    """``avatar`` with its rig's mouth interior placed again by this code (a bundle tracked before a change of
    :mod:`talkavatar.core.body.mouth` keeps the old one) and the mouth Gaussians in the current known colours; the
    Gaussians keep their triangles (the parts' meshes keep their sizes)."""
    from dataclasses import replace

    import torch

    from talkavatar.core.body.mouth import mouth_colours, mouth_faces, mouth_texels, with_mouth_interior
    from talkavatar.core.color import srgb_to_linear

    rig = avatar.rig
    parts = torch.stack(list(mouth_faces(rig).values())).any(0)
    first_face, first_vertex = int(parts.nonzero().min()), int(rig.faces[parts].min())
    keep_v, keep_f = slice(0, first_vertex), slice(0, first_face)
    bare = replace(rig, vertices=rig.vertices[keep_v], faces=rig.faces[keep_f], face_uvs=rig.face_uvs[keep_f],
                   skin_indices=rig.skin_indices[keep_v], skin_weights=rig.skin_weights[keep_v],
                   expression_blendshapes=rig.expression_blendshapes[:, keep_v])
    new = with_mouth_interior(bare)
    if new.faces.shape != rig.faces.shape or not (new.faces == rig.faces).all():
        raise ValueError("the mouth interior's meshes changed size: refit the bundle instead")
    part = mouth_texels(new, avatar.binding.face_index.cpu()).to(avatar.rgb.device)
    rgb = avatar.rgb.clone()
    rgb[part >= 0] = srgb_to_linear(mouth_colours().to(rgb))[part[part >= 0]]
    return replace(avatar, rig=new, rgb=rgb)


def closeups(bundle_path: Path, jaws: list[float], size: int, device, initial_uv: int | None = None,
             rebuild: bool = False, yaws=YAWS) -> tuple[list[dict], np.ndarray]:
    """Figures per (view, jaw) of one bundle and its sheet rows [len(yaws) * size, len(jaws) * size, 3] uint8."""
    import cv2
    import mediapipe as mp
    import torch

    from talkavatar.core.color import linear_to_srgb
    from talkavatar.core.splats import rasterize

    avatar = load_avatar(bundle_path, initial_uv)
    avatar = (rebuilt_mouth(avatar) if rebuild else avatar).to(device)
    geometry = mouth_geometry(avatar.rig)
    jr, rt, aw = poses(jaws, device)
    with torch.no_grad():
        g = avatar.pose(jr, rt, aw)
        posed = avatar.rig.pose(jr, rt, aw).vertices
    cameras = head_cameras(posed[0], geometry, size, device, yaws)
    rows, tiles = [], np.zeros((len(yaws) * size, len(jaws) * size, 3), np.uint8)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as mesh:
        for c, yaw in enumerate(yaws):
            cam = cameras[c]
            for j, jaw in enumerate(jaws):
                one = type(g)(*(getattr(g, k)[j:j + 1] for k in ("means", "quats", "log_scales", "opacity_logit",
                                                                 "rgb")))
                with torch.no_grad():
                    rgb = rasterize(one, cam, background=torch.ones(3, device=device)).rgb[0]
                image = (linear_to_srgb(rgb).clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)
                seen = facemesh_figures(mesh, image)
                geom = geometric_gap(posed[j], posed[0], geometry, cam)
                rows.append({"bundle": bundle_path.name, "yaw": yaw, "jaw": jaw, "gap": round(seen["gap"], 4),
                             "geom": round(geom, 4), "dark": round(seen["dark"], 3)})
                tile = image.copy()
                if seen["lip"] is not None:
                    cv2.polylines(tile, [np.round(seen["lip"]).astype(np.int32)], True, (0, 200, 0), 1)
                tiles[c * size:(c + 1) * size, j * size:(j + 1) * size] = tile
    return rows, tiles


def slopes(rows: list[dict]) -> list[dict]:
    """Per (bundle, yaw): FaceMesh's gap change over the rig's geometric change from the first jaw to the one nearest
    SPEECH_JAW."""
    out = []
    for key in dict.fromkeys((r["bundle"], r["yaw"]) for r in rows):
        mine = [r for r in rows if (r["bundle"], r["yaw"]) == key]
        lo, hi = mine[0], min(mine[1:] or mine, key=lambda r: abs(r["jaw"] - SPEECH_JAW))
        change = hi["geom"] - lo["geom"]
        slope = (hi["gap"] - lo["gap"]) / change if change > 0 else float("nan")
        out.append({"bundle": key[0], "yaw": key[1], "slope": round(slope, 3)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundles", nargs="+", type=Path)
    parser.add_argument("--jaw", default="0,0.15,0.3,0.5,1", help="jawOpen values, comma-separated (first: the base)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--sheet", type=Path, help="contact sheet PNG")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--initial", type=int, metavar="UV",
                        help="the fit's starting avatar at this UV resolution instead of the fitted one")
    parser.add_argument("--yaws", default=",".join(f"{y:g}" for y in YAWS), help="views' yaws in degrees")
    parser.add_argument("--rebuild-mouth", action="store_true",
                        help="place the mouth interior again with the current code (bundles made before a change)")
    args = parser.parse_args()
    from PIL import Image

    from talkavatar.core import threads

    threads.apply(threads.explicit_threads() or threads.usable_cores())
    jaws = [float(x) for x in args.jaw.split(",")]
    rows, sheet = [], []
    for path in args.bundles:
        r, tiles = closeups(path, jaws, args.size, args.device, args.initial, args.rebuild_mouth,
                            tuple(float(y) for y in args.yaws.split(",")))
        rows += r
        sheet.append(tiles)
        print(f"{path.name}: done", file=sys.stderr)
    if args.sheet:
        Image.fromarray(np.concatenate(sheet)).save(args.sheet)
    per_view = slopes(rows)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "slopes": per_view}, indent=1))
    print("| bundle | yaw | " + " | ".join(f"jaw {j}: gap / geom / dark" for j in jaws) + " | slope |")
    print("|---|---|" + "---|" * (len(jaws) + 1))
    for s in per_view:
        mine = [r for r in rows if (r["bundle"], r["yaw"]) == (s["bundle"], s["yaw"])]
        cells = " | ".join(f"{r['gap']} / {r['geom']} / {r['dark']}" for r in mine)
        print(f"| {s['bundle']} | {s['yaw']:+.0f} | {cells} | {s['slope']} |")


if __name__ == "__main__":
    main()
