"""Write the default-shape Anny personal rig to a file, for machines without the anny package (the device machine).

    ANNY_CACHE_DIR=... python benchmarks/bake_anny_rig.py OUT.safetensors [--phenotypes g a m w h p]

Load it with ``talkavatar.core.body.rig.Rig.load(path)``; bind Gaussians with
``talkavatar.core.binding.Binding.from_uv(rig.face_uvs, 512)``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--phenotypes", type=float, nargs=6, default=None,
                        help="gender age muscle weight height proportions, each 0..1 (default 0.5)")
    args = parser.parse_args()
    from talkavatar.core.body.anny import anny_body

    body = anny_body(local_changes=False)
    shape = body.default_shape if args.phenotypes is None else torch.tensor(args.phenotypes)
    rig = body.bake_rig(shape)
    rig.save(args.out)
    print(f"{args.out}: {rig.vertices.shape[0]} vertices, {rig.faces.shape[0]} faces, {len(rig.bone_names)} bones, "
          f"{args.out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
