"""The avatar as a rigged glTF 2.0 binary (``.glb``) for Blender, Unity, Unreal, three.js and other engines.

Contents (all in one file):

- one skinned mesh: the rig's rest mesh with the fitted offsets, split at UV seams (:mod:`mesh`), normals, UVs,
  ``JOINTS_0``/``WEIGHTS_0`` (4 influences per vertex);
- the baked colour texture (:mod:`texture`) as an unlit material (``KHR_materials_unlit``, with a matte PBR
  fallback for viewers without it): the colours are the photo's, lighting included;
- the skeleton: one node per rig bone, at rest with identity rotations (the rig's rest pose) and translations from
  its parent; inverse bind matrices; bones driven by a canonical SMPL-X joint say which in ``extras.smplx_joint``;
- the 52 ARKit blendshapes as morph targets (sparse accessors), named in ``mesh.extras.targetNames`` (the
  convention three.js, Blender and Babylon.js read);
- optionally the Gaussians of the first pose as a static point primitive of the ratified ``KHR_gaussian_splatting``
  extension (ellipse kernel, colour space ``lin_rec709_display``: our colours are linear, so the degree-0 SH
  coefficient is ``(rgb - 0.5) / 0.2820948``; ``COLOR_0`` is the fallback for viewers without the extension,
  which draw the splats as points). The splats do not follow the animation: the extension has no skinning;
- with a clip: one animation "talk" with a rotation channel per bone, the root's translation and the 52 morph
  weights, LINEAR-interpolated keys at the motion's frames (see :mod:`clip`).

Axes: glTF's, which are the bundle's (+Y up, metres, right-handed; the person faces +Z).
"""

from __future__ import annotations

import numpy as np
import torch

from talkavatar.core.avatar import Avatar
from talkavatar.core.splats import Gaussians
from talkavatar.export.clip import Clip, bone_quaternions_xyzw
from talkavatar.export.gltf import ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER, GltfBuilder
from talkavatar.export.mesh import SkinnedMesh
from talkavatar.export.texture import bake_texture, png_bytes
from talkavatar.motion.names import ARKIT_NAMES, JOINT_NAMES
from talkavatar.version import __version__

UNLIT = "KHR_materials_unlit"
SPLATS = "KHR_gaussian_splatting"
SH_C0 = 0.28209479177387814
LINEAR, LINEAR_MIPMAP_LINEAR, CLAMP_TO_EDGE = 9729, 9987, 33071


def avatar_glb(avatar: Avatar, clip: Clip | None = None, splats: Gaussians | None = None) -> bytes:
    """The GLB file of ``avatar`` (see the module docstring), animated by ``clip`` when given, with ``splats``
    (posed Gaussians, fields [N, ...] or [1, N, ...]) as a static ``KHR_gaussian_splatting`` primitive when given."""
    gltf = GltfBuilder(f"talkavatar {__version__}")
    mesh = SkinnedMesh.of(avatar)
    bones = _skeleton(gltf, avatar)
    material = _material(gltf, bake_texture(avatar))
    mesh_index = _mesh(gltf, mesh, material)
    skin = gltf.add("skins", {"joints": bones, "skeleton": bones[0],
                              "inverseBindMatrices": gltf.accessor(_inverse_bind(avatar))})
    body = gltf.add("nodes", {"name": "body", "mesh": mesh_index, "skin": skin})
    gltf.doc["scenes"] = [{"name": "avatar", "nodes": [bones[0], body]}]
    gltf.doc["scene"] = 0
    gltf.doc["extensionsUsed"] = [UNLIT]
    if splats is not None:
        gltf.doc["scenes"][0]["nodes"].append(gltf.add("nodes", {"name": "splats", "mesh": _splats(gltf, splats)}))
        gltf.doc["extensionsUsed"].append(SPLATS)
    if clip is not None:
        _animation(gltf, avatar, clip, bones, body)
    return gltf.glb()


def _skeleton(gltf: GltfBuilder, avatar: Avatar) -> list[int]:
    """One node per bone (indices returned in bone order), children linked, rest translations from the parent."""
    rig = avatar.rig
    joints = rig.joints.detach().cpu().double().numpy()
    parents = rig.parents.tolist()
    driver = rig.bone_driver.tolist()
    first = len(gltf.doc.get("nodes", []))
    for j, name in enumerate(rig.bone_names):
        offset = joints[j] - (joints[parents[j]] if parents[j] >= 0 else 0.0)
        node = {"name": name, "translation": [float(x) for x in offset]}
        if driver[j] >= 0:
            node["extras"] = {"smplx_joint": JOINT_NAMES[driver[j]]}
        gltf.add("nodes", node)
    for j, parent in enumerate(parents):
        if parent >= 0:
            gltf.doc["nodes"][first + parent].setdefault("children", []).append(first + j)
    return [first + j for j in range(len(parents))]


def _inverse_bind(avatar: Avatar) -> np.ndarray:
    """[J, 16] column-major inverse bind matrices: bones rest with world-aligned axes at their joints."""
    joints = avatar.rig.joints.detach().cpu().double().numpy()
    matrices = np.tile(np.eye(4), (len(joints), 1, 1))
    matrices[:, :3, 3] = -joints
    return matrices.transpose(0, 2, 1).reshape(-1, 16).astype(np.float32)


def _material(gltf: GltfBuilder, texture: np.ndarray) -> int:
    image = gltf.image(png_bytes(texture), "albedo")
    sampler = gltf.add("samplers", {"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR,
                                    "wrapS": CLAMP_TO_EDGE, "wrapT": CLAMP_TO_EDGE})
    texture_index = gltf.add("textures", {"source": image, "sampler": sampler})
    return gltf.add("materials", {
        "name": "skin", "extensions": {UNLIT: {}},
        "pbrMetallicRoughness": {"baseColorTexture": {"index": texture_index}, "metallicFactor": 0.0,
                                 "roughnessFactor": 1.0}})


def _mesh(gltf: GltfBuilder, mesh: SkinnedMesh, material: int) -> int:
    joint_type = np.uint8 if mesh.joints.max(initial=0) < 256 else np.uint16
    attributes = {
        "POSITION": gltf.accessor(mesh.positions, target=ARRAY_BUFFER, bounds=True),
        "NORMAL": gltf.accessor(mesh.normals, target=ARRAY_BUFFER),
        "TEXCOORD_0": gltf.accessor(mesh.uvs, target=ARRAY_BUFFER),
        "JOINTS_0": gltf.accessor(mesh.joints.astype(joint_type), target=ARRAY_BUFFER),
        "WEIGHTS_0": gltf.accessor(mesh.weights, target=ARRAY_BUFFER),
    }
    targets = [{"POSITION": gltf.sparse_vec3(offsets, tolerance=1e-7)} for offsets in mesh.morph_offsets]
    indices = gltf.accessor(mesh.triangles.reshape(-1), target=ELEMENT_ARRAY_BUFFER)
    primitive = {"attributes": attributes, "indices": indices, "material": material, "mode": 4, "targets": targets}
    return gltf.add("meshes", {"name": "body", "primitives": [primitive], "weights": [0.0] * len(ARKIT_NAMES),
                               "extras": {"targetNames": list(ARKIT_NAMES)}})


def _animation(gltf: GltfBuilder, avatar: Avatar, clip: Clip, bones: list[int], body: int) -> None:
    """The clip as one animation: bone rotations, root translation and morph weights at the clip's keys."""
    times = gltf.accessor(clip.times.astype(np.float32), bounds=True)
    quats = bone_quaternions_xyzw(avatar.rig, clip)
    samplers, channels = [], []

    def channel(node: int, path: str, values: np.ndarray) -> None:
        samplers.append({"input": times, "output": gltf.accessor(values), "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": path}})

    for j, node in enumerate(bones):
        channel(node, "rotation", quats[:, j])
    root = avatar.rig.joints[0].detach().cpu().double().numpy()
    channel(bones[0], "translation", (root + clip.root_translation).astype(np.float32))
    channel(body, "weights", np.clip(clip.arkit_weights, 0, 1).reshape(-1).astype(np.float32))
    gltf.add("animations", {"name": "talk", "samplers": samplers, "channels": channels})


def _splats(gltf: GltfBuilder, splats: Gaussians) -> int:
    """A mesh with one POINTS primitive carrying ``splats`` through ``KHR_gaussian_splatting``."""
    g = splats.to("cpu", torch.float64)
    fields = {name: getattr(g, name).detach() for name in ("means", "quats", "log_scales", "opacity_logit", "rgb")}
    if g.means.dim() == 3:  # one posed frame
        fields = {name: value[0] for name, value in fields.items()}
    wxyz = fields["quats"] / fields["quats"].norm(dim=-1, keepdim=True)
    rgb = fields["rgb"].clamp(0, 1)
    opacity = fields["opacity_logit"].sigmoid()
    attributes = {
        "POSITION": gltf.accessor(fields["means"].float().numpy(), target=ARRAY_BUFFER, bounds=True),
        "COLOR_0": gltf.accessor(np.concatenate([rgb.numpy(), opacity[:, None].numpy()], 1).astype(np.float32),
                                 target=ARRAY_BUFFER),
        f"{SPLATS}:ROTATION": gltf.accessor(wxyz[:, [1, 2, 3, 0]].float().numpy(), target=ARRAY_BUFFER),
        f"{SPLATS}:SCALE": gltf.accessor(fields["log_scales"].exp().float().numpy(), target=ARRAY_BUFFER),
        f"{SPLATS}:OPACITY": gltf.accessor(opacity.float().numpy(), target=ARRAY_BUFFER),
        f"{SPLATS}:SH_DEGREE_0_COEF_0": gltf.accessor(((rgb - 0.5) / SH_C0).float().numpy(), target=ARRAY_BUFFER),
    }
    primitive = {"attributes": attributes, "mode": 0,
                 "extensions": {SPLATS: {"kernel": "ellipse", "colorSpace": "lin_rec709_display"}}}
    return gltf.add("meshes", {"name": "splats", "primitives": [primitive]})
