"""Derive the Anny -> MediaPipe landmark map (``talkavatar/core/body/data/anny_landmarks.json``). Rerunnable:

    ANNY_CACHE_DIR=... python scripts/derive_landmarks.py [--out PATH] [--debug-dir DIR]

How each point is derived (recorded per point in the file's ``derivation`` field):
- Pose points that COCO-WholeBody shares with BlazePose (ears, shoulders, elbows, wrists, hips, knees, ankles,
  heels, big toe = foot index): Anny's own shipped COCO keypoint regressor (``anny/data/keypoints/coco.pth``,
  sparse vertex weights), which its authors made for image keypoints, as MediaPipe's are. The ears then move to the
  tragus (:data:`EAR_TO_TRAGUS_MM`): the regressor's ear is the middle of the concha, 74 mm from the midline and
  level with Face Mesh's 234 / 454, where MediaPipe Pose's detected ears lie nearer the midline on 22 of the 24 ears
  of the twelve photos of issue 17 (by 8-24 mm on 19, in the fitted heads' frames) but at about its height, and the
  hand-marked tragus (benchmarks/data/MARKING.md) nearer the midline, lower and further forward. The point follows
  the marks, not MediaPipe: in close-up clips, whose ears are not fitted, MediaPipe's ears lie 1-3 % of the height
  further from it than from the regressor's point, the hand-marked ears 2-3 % nearer. Not the nose: the
  regressor's nose projected 10-35 px above the fitted model's own Face Mesh nose tip on real photos; BlazePose's
  nose and hand-marked noses lie on the tip's upper half, between Face Mesh's point 1 (the tip) and point 4 (just
  above it), nearer 4: the pose nose is Face Mesh's point 4. Not the eyes: the regressor's eye is 0.7 of the
  eyeball's vertices (its centre, ~12 mm behind the cornea) and 0.3 of an upper-lid vertex, and it projected
  0.4-1.7 % of the person's height above the fitted model's own iris on the twelve photos of issue 17 (most on
  close-ups), where the hand-marked eye centres lie within 0.3-0.8 % of that iris on the close-ups: the pose eye
  is Face Mesh's iris centre (468, 473), which also turns with the gaze.
- Hand joints (wrist, CMC, MCP, PIP/IP, DIP) and BlazePose's pinky/index/thumb knuckles: Anny bone heads (the
  joint centres MediaPipe's hand model places these points at). Fingertips: the surface vertex that reaches
  furthest along the last phalanx among the vertices that bone dominates.
- Face points and the pose nose, eye corners and mouth corners: MediaPipe Face Mesh itself, run on shaded renders of
  Anny's head (front and +-20 degrees of yaw, mouth slightly open so inner and outer lip contours separate); each
  detected point is cast back through the render onto the mesh, the views are merged and the point is snapped to
  the closest skin surface (iris centres: to the eyeball front), giving a barycentric point on one triangle.
Every point is stored as vertex weights and/or joint weights, so it follows any shape, pose and expression.
Reruns reproduce the file up to MediaPipe's run-to-run jitter (face points move by at most ~0.2 mm).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

from talkavatar.core.body.anny import anny_body
from talkavatar.core.body.anny_data import load_anny
from talkavatar.core.binding import pixel_centres_in_triangles
from talkavatar.core.body.landmarks import FACE_POINTS, HAND_NAMES, POSE_NAMES

OUT = Path(__file__).resolve().parents[1] / "talkavatar" / "core" / "body" / "data" / "anny_landmarks.json"
COCO_FOR_POSE = {"left_ear": "left_ear", "right_ear": "right_ear", "left_heel": "left_heel",
                 "right_heel": "right_heel", "left_foot_index": "left_big_toe", "right_foot_index": "right_big_toe",
                 **{f"{s}_{j}": f"{s}_{j}" for s in ("left", "right")
                    for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")}}
HAND_BONES = {"wrist": "wrist", "thumb_cmc": "finger1-1", "thumb_mcp": "finger1-2", "thumb_ip": "finger1-3",
              **{f"{f}_{k}": f"finger{n}-{i}" for f, n in (("index", 2), ("middle", 3), ("ring", 4), ("pinky", 5))
                 for k, i in (("mcp", 1), ("pip", 2), ("dip", 3))}}
TIPS = {"thumb_tip": "finger1-3", "index_tip": "finger2-3", "middle_tip": "finger3-3", "ring_tip": "finger4-3",
        "pinky_tip": "finger5-3"}
POSE_KNUCKLES = {"pinky": "finger5-1", "index": "finger2-1", "thumb": "finger1-2"}
EAR_TO_TRAGUS_MM = (-12.0, -17.0, 7.0)
"""The left ear's point is the skin point nearest to the regressor's ear moved by this (mm, Anny's rest frame: x
away from the midline, y up, z forward; the right ear mirrored): the offset that moves the fitted ears onto the
hand-marked tragus, by least squares in the fitted heads' frames over the four ears of the tune photos of issue 17
whose head a trusted Face Mesh places (astronaut's two, camera's, hand_on_head's; combat's face mesh is rejected
and its ear follows a detection 4 % of the height below the mark); /work/wt/notes/ear20_offsets.py. It lands 8 mm
from where it points, on the ear's front below the canal (the tragus and the notch under it): 6 mm nearer the
midline, 13 mm lower and 3 mm further forward than the regressor's point."""
POSE_FROM_FACE = {"nose": 4, "left_eye_inner": 362, "left_eye": 473, "left_eye_outer": 263,
                  "right_eye_inner": 133, "right_eye": 468, "right_eye_outer": 33, "mouth_left": 291, "mouth_right": 61}
YAWS_DEG = (0.0, -20.0, 20.0)
JAW_OPEN = 0.25
SKIN_SEARCH_PX = 16


def _coco_points(model, body) -> dict[str, list[tuple[int, float]]]:
    from anny.paths import get_anny_root_dir

    data = torch.load(get_anny_root_dir() / "data" / "keypoints" / "coco.pth", weights_only=True)
    base = model.base_mesh_vertex_indices.cpu()
    out = {}
    for label, weights in data.items():
        w = weights[base].double()
        nz = torch.nonzero(w > 1e-6).squeeze(1)
        w = w[nz] / w[nz].sum()
        out[label] = [(int(i), float(x)) for i, x in zip(nz, w)]
    return out


def _tragus(rig, ear: list[tuple[int, float]], side: str) -> tuple[list[tuple[int, float]], str]:
    """The skin point of :data:`EAR_TO_TRAGUS_MM` from the regressor's ``ear`` (vertex weights) of ``side``: one
    triangle's barycentric weights, and the derivation."""
    verts = rig.vertices.double().numpy()
    faces = rig.faces.numpy()
    concha = sum(w * verts[i] for i, w in ear)
    offset = np.array(EAR_TO_TRAGUS_MM) / 1000 * np.array([1.0 if side == "left" else -1.0, 1.0, 1.0])
    d, b = _closest_on_triangles(concha + offset, *(verts[faces[:, k]] for k in range(3)))
    k = int(d.argmin())
    return ([(int(faces[k, m]), float(b[k, m])) for m in range(3) if b[k, m] > 1e-9],
            f"anny-coco:{side}_ear moved {EAR_TO_TRAGUS_MM} mm to the tragus (snapped {math.sqrt(d[k]) * 1000:.1f} mm)")


def _fingertip(rig, bone: str) -> int:
    names = list(rig.bone_names)
    b, parent = names.index(bone), int(rig.parents[names.index(bone)])
    dominant = rig.skin_indices[torch.arange(len(rig.vertices)), rig.skin_weights.argmax(1)] == b
    direction = rig.joints[b] - rig.joints[parent]
    reach = (rig.vertices - rig.joints[b]) @ direction
    reach[~dominant] = -math.inf
    return int(reach.argmax())


# ---- rendering for MediaPipe ----------------------------------------------------------------------------------------
def _rasterize(points2d, depth, faces, size):
    """Per pixel: the nearest triangle (-1: none) and its screen barycentrics. ``points2d`` [V, 2] in pixels."""
    face, col, row, bary = pixel_centres_in_triangles(points2d[faces], size, size)
    z = (bary * depth[faces[face]]).sum(-1)
    order = np.lexsort((z, row * size + col))
    key = (row * size + col)[order]
    first = np.ones(len(key), bool)
    first[1:] = key[1:] != key[:-1]
    sel = order[first]
    face_id = -np.ones((size, size), np.int64)
    bary_img = np.zeros((size, size, 3))
    face_id[row[sel], col[sel]] = face[sel]
    bary_img[row[sel], col[sel]] = bary[sel]
    return face_id, bary_img


def _render_head(vertices, faces, albedo, centre, yaw, size=512, distance=0.55, extent=0.3):
    """A shaded render looking at ``centre`` from +Z after turning the mesh by ``yaw`` about +Y.

    Returns (image uint8 [size, size, 3], face id [size, size], bary [size, size, 3], turned vertices [V, 3]).
    """
    c, s = math.cos(yaw), math.sin(yaw)
    turn = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    v = (vertices - centre) @ turn.T
    cam_z = distance - v[:, 2]  # camera at +distance on Z looking at -Z; OpenCV y is -Y
    f = size * distance / extent
    xy = np.stack([f * v[:, 0] / cam_z + size / 2, -f * v[:, 1] / cam_z + size / 2], -1)
    face_id, bary = _rasterize(xy, cam_z, faces, size)
    n = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    n /= np.linalg.norm(n, axis=-1, keepdims=True) + 1e-12
    light = np.array([0.2, 0.35, 1.0])
    light /= np.linalg.norm(light)
    shade = 0.3 + 0.7 * np.clip(n @ light, 0, 1)
    image = np.full((size, size, 3), 0.55)
    hit = face_id >= 0
    image[hit] = albedo[face_id[hit]] * shade[face_id[hit], None]
    return (np.clip(image, 0, 1) * 255).astype(np.uint8), face_id, bary, v


def _closest_on_triangles(p, a, b, c):
    """Closest point of each triangle (a, b, c: [F, 3]) to p [3]: (squared distance [F], barycentrics [F, 3])."""
    ab, ac, ap = b - a, c - a, p - a
    d00, d01, d11 = (ab * ab).sum(-1), (ab * ac).sum(-1), (ac * ac).sum(-1)
    d20, d21 = (ap * ab).sum(-1), (ap * ac).sum(-1)
    den = np.maximum(d00 * d11 - d01 * d01, 1e-18)
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    bary = np.stack([1 - v - w, v, w], -1)
    # Outside the triangle: clamp onto the nearest edge.
    candidates = [bary]
    for i, j in ((0, 1), (1, 2), (2, 0)):
        corners = (a, b, c)
        u0, u1 = corners[i], corners[j]
        t = np.clip(((p - u0) * (u1 - u0)).sum(-1) / np.maximum(((u1 - u0) ** 2).sum(-1), 1e-18), 0, 1)
        e = np.zeros_like(bary)
        e[:, i], e[:, j] = 1 - t, t
        candidates.append(e)
    inside = (bary >= 0).all(-1)
    dists = []
    for k, cand in enumerate(candidates):
        q = cand[:, :1] * a + cand[:, 1:2] * b + cand[:, 2:] * c
        d = ((q - p) ** 2).sum(-1)
        if k == 0:
            d = np.where(inside, d, np.inf)
        dists.append(d)
    dists = np.stack(dists, 0)
    pick = dists.argmin(0)
    return dists.min(0), np.stack(candidates, 0)[pick, np.arange(len(a))]


def _face_points(rig, model, debug_dir: Path | None) -> dict[int, tuple[list[tuple[int, float]], str]]:
    import mediapipe as mp
    from anny.face_segmentation import get_face_segmentation_mask

    faces = rig.faces.numpy()
    weights = torch.zeros(1, 52)
    from talkavatar.motion.names import ARKIT_INDEX

    weights[0, ARKIT_INDEX["jawOpen"]] = JAW_OPEN
    verts = rig.rest_vertices(weights)[0].double().numpy()  # rest pose: the head is upright in Anny's rest
    labels = {name: get_face_segmentation_mask(model, [name]).cpu().numpy()
              for name in ("head", "eye_front.L", "eye_front.R", "eye_back.L", "eye_back.R", "mouth_cavity",
                           "tongue", "eye_cavity.L", "eye_cavity.R")}
    albedo = np.tile([0.86, 0.66, 0.56], (len(faces), 1))
    for name, colour in (("eye_back.L", 0.95), ("eye_back.R", 0.95)):
        albedo[labels[name]] = colour
    albedo[labels["eye_front.L"] | labels["eye_front.R"]] = [0.25, 0.17, 0.12]
    albedo[labels["mouth_cavity"] | labels["eye_cavity.L"] | labels["eye_cavity.R"]] = [0.25, 0.05, 0.05]
    albedo[labels["tongue"]] = [0.7, 0.35, 0.38]
    names = list(rig.bone_names)
    eyes = rig.joints[[names.index("eye.L"), names.index("eye.R")]].double().numpy()
    centre = eyes.mean(0) + np.array([0.0, -0.03, 0.0])
    head_faces = np.nonzero(verts[faces].mean(1)[:, 1] > rig.joints[names.index("neck01"), 1].item())[0]

    wanted = sorted(set(FACE_POINTS.values()))
    views: dict[int, list[np.ndarray]] = {i: [] for i in wanted}
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as mesh:
        for yaw_deg in YAWS_DEG:
            yaw = math.radians(yaw_deg)
            image, face_id, bary, turned = _render_head(verts, faces[head_faces], albedo[head_faces], centre, yaw)
            if debug_dir is not None:
                from PIL import Image

                Image.fromarray(image).save(debug_dir / f"anny_head_yaw{yaw_deg:+.0f}.png")
            result = mesh.process(image)
            if not result.multi_face_landmarks:
                if yaw_deg == 0.0:
                    raise RuntimeError("MediaPipe found no face on the frontal render")
                continue
            size = image.shape[0]
            c, s = math.cos(yaw), math.sin(yaw)
            turn = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
            hit = face_id >= 0
            on_skin = np.zeros_like(hit)
            on_skin[hit] = labels["head"][head_faces[face_id[hit]]]
            for i in wanted:
                lm = result.multi_face_landmarks[0].landmark[i]
                col, row = int(lm.x * size), int(lm.y * size)
                if not (0 <= col < size and 0 <= row < size) or face_id[row, col] < 0:
                    continue
                if i not in (468, 473) and not on_skin[row, col]:
                    # Inner-lip points can fall on the mouth's inside: take the nearest skin pixel in the image.
                    r0, c0 = max(row - SKIN_SEARCH_PX, 0), max(col - SKIN_SEARCH_PX, 0)
                    window = on_skin[r0:row + SKIN_SEARCH_PX + 1, c0:col + SKIN_SEARCH_PX + 1]
                    rr, cc = np.nonzero(window)
                    if len(rr) == 0:
                        continue
                    nearest = np.argmin((rr + r0 - row) ** 2 + (cc + c0 - col) ** 2)
                    row, col = rr[nearest] + r0, cc[nearest] + c0
                tri = head_faces[face_id[row, col]]
                point = (bary[row, col, :, None] * turned[faces[tri]]).sum(0)
                views[i].append(point @ turn + centre)  # undo the turn (turn is orthonormal)
    skin = labels["head"]
    iris = labels["eye_front.L"] | labels["eye_front.R"]
    out = {}
    for i in wanted:
        if not views[i]:
            raise RuntimeError(f"face point {i} was not found in any view")
        front = views[i][0]
        agree = [p for p in views[i] if np.linalg.norm(p - front) < 0.008]
        point = np.mean(agree, 0)
        allowed = np.nonzero(iris if i in (468, 473) else skin)[0]
        d, b = _closest_on_triangles(point, *(verts[faces[allowed, k]] for k in range(3)))
        k = int(d.argmin())
        tri = faces[allowed[k]]
        out[i] = ([(int(tri[m]), float(b[k, m])) for m in range(3) if b[k, m] > 1e-9],
                  f"mediapipe-face:{i} ({len(agree)} of {len(YAWS_DEG)} views, "
                  f"snapped {math.sqrt(d[k]) * 1000:.1f} mm)")
    return out


def derive(debug_dir: Path | None = None) -> dict:
    body = anny_body()
    rig = body.bake_rig()
    model = load_anny()
    coco = _coco_points(model, body)
    face = _face_points(rig, model, debug_dir)
    points = []

    def add(set_name, index, name, vertices=(), joints=(), how=""):
        points.append({"set": set_name, "index": index, "name": name, "vertices": [list(v) for v in vertices],
                       "joints": [list(j) for j in joints], "derivation": how})

    for index, name in enumerate(POSE_NAMES):
        side = "L" if name.startswith("left") else "R"
        if name in ("left_ear", "right_ear"):
            vertices, how = _tragus(rig, coco[name], name.split("_")[0])
            add("pose", index, name, vertices=vertices, how=how)
        elif name in COCO_FOR_POSE:
            add("pose", index, name, vertices=coco[COCO_FOR_POSE[name]], how=f"anny-coco:{COCO_FOR_POSE[name]}")
        elif name in POSE_FROM_FACE:
            vertices, how = face[POSE_FROM_FACE[name]]
            add("pose", index, name, vertices=vertices, how=how)
        else:
            bone = f"{POSE_KNUCKLES[name.split('_')[1]]}.{side}"
            add("pose", index, name, joints=[(bone, 1.0)], how=f"joint:{bone}")
    for side, s in (("left", "L"), ("right", "R")):
        for index, name in enumerate(HAND_NAMES):
            if name in TIPS:
                vertex = _fingertip(rig, f"{TIPS[name]}.{s}")
                add(f"{side}_hand", index, f"{side}_{name}", vertices=[(vertex, 1.0)],
                    how=f"fingertip:{TIPS[name]}.{s}")
            else:
                bone = f"{HAND_BONES[name]}.{s}"
                add(f"{side}_hand", index, f"{side}_{name}", joints=[(bone, 1.0)], how=f"joint:{bone}")
    for name, index in FACE_POINTS.items():
        vertices, how = face[index]
        add("face", index, name, vertices=vertices, how=how)
    return {"model": "anny", "anny_version": "0.6.2", "vertex_count": int(rig.vertices.shape[0]),
            "description": __doc__.strip().splitlines()[0], "landmarks": points}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--debug-dir", type=Path, default=None, help="write the renders here")
    args = parser.parse_args()
    if args.debug_dir:
        args.debug_dir.mkdir(parents=True, exist_ok=True)
    doc = derive(args.debug_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    lines = ",\n  ".join(json.dumps(p) for p in doc["landmarks"])
    head = json.dumps({k: v for k, v in doc.items() if k != "landmarks"})[:-1]
    args.out.write_text(f'{head}, "landmarks": [\n  {lines}\n]}}\n')
    print(f"wrote {len(doc['landmarks'])} landmarks to {args.out}")


if __name__ == "__main__":
    main()
