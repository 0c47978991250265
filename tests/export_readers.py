"""Independent readers for the export tests: a GLB through pygltflib with the glTF 2.0 skinning and morph maths
written from the specification, and a BVH through the ``bvh`` package."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np

GLTF_DTYPES = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}
WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
VALIDATOR = Path(__file__).parent / "node_modules" / "gltf-validator"


def accessor(gltf, index: int) -> np.ndarray:
    """An accessor's values [count, width] (sparse ones expanded), read from a GLB's binary chunk."""
    blob = gltf.binary_blob()
    acc = gltf.accessors[index]
    dtype, width = GLTF_DTYPES[acc.componentType], WIDTH[acc.type]

    def view_array(view_index: int, offset: int, count: int, dtype, width: int) -> np.ndarray:
        view = gltf.bufferViews[view_index]
        start = (view.byteOffset or 0) + offset
        return np.frombuffer(blob, dtype, count * width, start).reshape(count, width)

    values = np.zeros((acc.count, width), dtype) if acc.bufferView is None else \
        view_array(acc.bufferView, acc.byteOffset or 0, acc.count, dtype, width).copy()
    if acc.sparse is not None:
        sparse = acc.sparse
        rows = view_array(sparse.indices.bufferView, sparse.indices.byteOffset or 0, sparse.count,
                          GLTF_DTYPES[sparse.indices.componentType], 1)[:, 0]
        values[rows] = view_array(sparse.values.bufferView, sparse.values.byteOffset or 0, sparse.count, dtype, width)
    return values


def quat_xyzw_to_matrix(q: np.ndarray) -> np.ndarray:
    x, y, z, w = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def skinned_vertices(gltf, key: int) -> np.ndarray:
    """The first mesh's vertices [V, 3] at animation key ``key``: morph targets, then skinning (glTF 2.0 §3.7)."""
    anim = gltf.animations[0]
    local = {i: {"t": np.array(n.translation or [0, 0, 0], float), "r": np.array(n.rotation or [0, 0, 0, 1], float)}
             for i, n in enumerate(gltf.nodes)}
    weights = None
    for channel in anim.channels:
        values = accessor(gltf, anim.samplers[channel.sampler].output)
        path = channel.target.path
        if path == "weights":
            count = len(gltf.meshes[0].extras["targetNames"])
            weights = values.reshape(-1, count)[key]
        else:
            local[channel.target.node]["t" if path == "translation" else "r"] = values[key].astype(float)
    world = {}

    def visit(node: int, parent: np.ndarray) -> None:
        m = np.eye(4)
        m[:3, :3] = quat_xyzw_to_matrix(local[node]["r"])
        m[:3, 3] = local[node]["t"]
        world[node] = parent @ m
        for child in gltf.nodes[node].children or []:
            visit(child, world[node])

    for root in gltf.scenes[0].nodes:
        visit(root, np.eye(4))
    skin = gltf.skins[0]
    inverse_bind = accessor(gltf, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    joint_matrices = np.stack([world[j] @ ib for j, ib in zip(skin.joints, inverse_bind)])
    primitive = gltf.meshes[0].primitives[0]
    position = accessor(gltf, primitive.attributes.POSITION).astype(float)
    for w, target in zip(weights, primitive.targets):
        position += w * accessor(gltf, target["POSITION"])
    joints = accessor(gltf, primitive.attributes.JOINTS_0).astype(int)
    skin_weights = accessor(gltf, primitive.attributes.WEIGHTS_0).astype(float)
    blended = (skin_weights[:, :, None, None] * joint_matrices[joints]).sum(1)
    return (blended[:, :3, :3] @ position[:, :, None])[:, :, 0] + blended[:, :3, 3]


def khronos_validator(path: Path) -> dict | None:
    """The Khronos glTF validator's report on ``path`` (npm ``gltf-validator`` under node), or None if absent."""
    if shutil.which("node") is None or not VALIDATOR.is_dir():
        return None
    script = ("const v=require(process.argv[1]);const fs=require('fs');"
              "v.validateBytes(new Uint8Array(fs.readFileSync(process.argv[2])),{maxIssues:200})"
              ".then(r=>console.log(JSON.stringify(r)))")
    out = subprocess.run(["node", "-e", script, str(VALIDATOR), str(path)], capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout)


def bvh_rotations(path: Path, joint_names) -> tuple[np.ndarray, np.ndarray, float]:
    """(rotation matrices [T, J, 3, 3] of ``joint_names`` composed from the Euler channels in the listed order,
    root positions [T, 3], frame time) parsed by the ``bvh`` package."""
    from bvh import Bvh
    from scipy.spatial.transform import Rotation

    with open(path) as f:
        doc = Bvh(f.read())
    frames = doc.nframes
    matrices = np.zeros((frames, len(joint_names), 3, 3))
    for j, name in enumerate(joint_names):
        channels = [c for c in doc.joint_channels(name) if c.endswith("rotation")]
        angles = np.array(doc.frames_joint_channels(name, channels), float)
        matrices[:, j] = Rotation.from_euler("".join(c[0] for c in channels).upper(), angles, degrees=True).as_matrix()
    root = np.array(doc.frames_joint_channels(joint_names[0], ["Xposition", "Yposition", "Zposition"]), float)
    return matrices, root, doc.frame_time
