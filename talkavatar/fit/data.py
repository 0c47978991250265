"""What the fit learns from, read from a bundle and brought to the training resolutions.

Images here are sRGB floats in 0..1, channels-last; masks are 0..1. Cameras are scaled with the images (pixel
centres at +0.5 keep their meaning: continuous image coordinates scale by the same factor).

Inputs (see ``man/talkavatar-bundle.5``): ``source/image.png``; ``track/params.safetensors`` (frame 0 is the input
view), ``track/rig.safetensors``, ``track/mask.png``, ``track/detections.safetensors`` (face and hand crops);
optional ``pseudo/`` outputs: ``frames/NNNNN.png`` (RGBA, alpha = mask), ``params.safetensors``, ``texture.png``
(completed UV texture, sRGB, row 0 = v 1) and ``proxy.safetensors`` (proxy vertex offsets).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from talkavatar.bundle import artifacts
from talkavatar.bundle.store import stage_command
from talkavatar.core.body.parts import hidden_parts
from talkavatar.core.body.rig import Rig
from talkavatar.core.cameras import Cameras
from talkavatar.errors import InvalidInput

FACE_CROP_MARGIN = 1.35  # crop side / landmark bounding-box side
HAND_CROP_MARGIN = 1.8
MIN_CROP_FRACTION = 0.06  # crops are at least this fraction of the longer image side


@dataclass(frozen=True)
class Poses:
    """joint_rotations [B, 55, 3]; root_translation [B, 3]; arkit_weights [B, 52]."""

    joint_rotations: torch.Tensor
    root_translation: torch.Tensor
    arkit_weights: torch.Tensor

    def __getitem__(self, index) -> "Poses":
        return Poses(self.joint_rotations[index], self.root_translation[index], self.arkit_weights[index])

    def to(self, device=None, dtype=None) -> "Poses":
        return Poses(*(t.to(device=device, dtype=dtype) for t in
                       (self.joint_rotations, self.root_translation, self.arkit_weights)))

    def __len__(self) -> int:
        return int(self.joint_rotations.shape[0])


@dataclass(frozen=True)
class Views:
    """Target images seen by cameras under poses: ``rgb`` [B, H, W, 3] sRGB, ``mask`` [B, H, W]; ``poses`` B
    poses (one per image, or one for all)."""

    rgb: torch.Tensor
    mask: torch.Tensor
    cameras: Cameras
    poses: Poses

    def select(self, index: torch.Tensor) -> "Views":
        """The views at ``index`` [K] (long)."""
        cams = Cameras(self.cameras.world_to_camera[index], self.cameras.K[index], self.cameras.width,
                       self.cameras.height)
        return Views(self.rgb[index], self.mask[index], cams, self.poses[index])

    def to(self, device=None, dtype=None) -> "Views":
        return Views(self.rgb.to(device=device, dtype=dtype), self.mask.to(device=device, dtype=dtype),
                     self.cameras.to(device, dtype), self.poses.to(device, dtype))


@dataclass(frozen=True)
class FitData:
    """rig; ``photo``: the input view at training size; ``crops``: face/hand crops of the photo (may be empty, then
    None) with ``crop_names``; ``pseudo``: pseudo frames or None; ``texture``: [R, R, 3] sRGB UV texture or None;
    ``proxy_offsets``: [V, 3] or None; ``inputs``: bundle-relative paths read (for the stage record); ``video``:
    real frames of a clip of the person (photometric labels, :mod:`talkavatar.fit.frames`) or None, and
    ``video_record``: which frames they are, what was held out, which pseudo frames they made unnecessary;
    ``face_xy``: [478, 2] the photo's Face Mesh points in pixels of ``photo`` (training size), None without a face;
    ``hands_xy``: [K, 21, 2] the points of the K hands MediaPipe found in the photo, in the same pixels;
    ``unseen_parts``: the body parts the photo's detector did not see (:func:`~talkavatar.core.body.parts.hidden_parts`:
    legs a photo cut off)."""

    rig: Rig
    photo: Views
    crops: Views | None
    crop_names: tuple[str, ...]
    pseudo: Views | None
    texture: torch.Tensor | None
    proxy_offsets: torch.Tensor | None
    inputs: tuple[str, ...]
    video: Views | None = None
    video_record: dict | None = None
    face_xy: torch.Tensor | None = None
    hands_xy: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 21, 2))
    unseen_parts: tuple[int, ...] = ()

    def to(self, device=None, dtype=None) -> "FitData":
        def move(v):
            return None if v is None else v.to(device, dtype)

        return FitData(self.rig.to(device, dtype), self.photo.to(device, dtype), move(self.crops), self.crop_names,
                       move(self.pseudo), move(self.texture), move(self.proxy_offsets), self.inputs, move(self.video),
                       self.video_record, move(self.face_xy), self.hands_xy.to(device, dtype), self.unseen_parts)


def hard_mask(mask: np.ndarray) -> np.ndarray:
    """uint8 [H, W] -> 0 or 255 at the 0.5 level. The segmenter's soft band (up to ~30 px deep along a suit's edge
    on the astronaut) is its doubt, not partial coverage: fitted to it, the body turns half transparent there.
    Resizing the hard mask (area-averaged) still gives the edge pixels their partial coverage."""
    return np.where(mask >= 128, 255, 0).astype(np.uint8)


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 [H, W] or [H, W, C] -> float32 0..1 at (width, height), area-averaged when shrinking."""
    return resized(image, width, height).astype(np.float32) / 255.0


def resized(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 [H, W] or [H, W, C] -> uint8 at (width, height), area-averaged when shrinking (:func:`resize`'s
    values before they become 0..1)."""
    img = Image.fromarray(image)
    if img.size != (width, height):
        img = img.resize((width, height), Image.BOX if width < img.size[0] else Image.BICUBIC)
    return np.asarray(img)


def scaled_size(width: int, height: int, longer: int) -> tuple[int, int, float, float]:
    """(new width, new height, x scale, y scale) with the longer side ``longer``."""
    s = longer / max(width, height)
    w, h = max(1, round(width * s)), max(1, round(height * s))
    return w, h, w / width, h / height


def scale_intrinsics(K: torch.Tensor, sx: float, sy: float) -> torch.Tensor:
    """K [..., 3, 3] for an image scaled by (sx, sy)."""
    K = K.clone()
    K[..., 0, :] *= sx
    K[..., 1, :] *= sy
    return K


def crop_boxes(detections: dict, width: int, height: int) -> list[tuple[str, float, float, float]]:
    """Square crops (name, x0, y0, side) in full-resolution pixels of frame 0 around the face and present hands."""
    boxes = []
    groups = (("face", "face", "face_present", FACE_CROP_MARGIN),
              ("left_hand", "left_hand", "left_hand_present", HAND_CROP_MARGIN),
              ("right_hand", "right_hand", "right_hand_present", HAND_CROP_MARGIN))
    for name, key, present, margin in groups:
        if key not in detections or not int(np.asarray(detections[present])[0]):
            continue
        xy = np.asarray(detections[key][0], np.float64)[:, :2]
        xy = xy[np.isfinite(xy).all(1)]
        if len(xy) < 3:
            continue
        lo, hi = xy.min(0), xy.max(0)
        side = max(float((hi - lo).max()) * margin, MIN_CROP_FRACTION * max(width, height))
        side = min(side, float(min(width, height)))
        centre = (lo + hi) / 2
        x0 = float(np.clip(centre[0] - side / 2, 0, width - side))
        y0 = float(np.clip(centre[1] - side / 2, 0, height - side))
        boxes.append((name, x0, y0, side))
    return boxes


def crop_views(photo: np.ndarray, mask: np.ndarray, K_full: torch.Tensor, w2c: torch.Tensor, poses: Poses,
               boxes: list[tuple[str, float, float, float]], size: int) -> Views:
    """Crops of the full-resolution ``photo`` [H, W, 3] uint8 and ``mask`` [H, W] uint8 as ``size``² views with
    matching cameras (the full camera shifted and scaled)."""
    rgbs, masks, Ks = [], [], []
    for _, x0, y0, side in boxes:
        box = (x0, y0, x0 + side, y0 + side)
        rgbs.append(np.asarray(Image.fromarray(photo).resize((size, size), Image.BOX, box=box), np.float32) / 255)
        masks.append(np.asarray(Image.fromarray(mask).resize((size, size), Image.BOX, box=box), np.float32) / 255)
        K = K_full.clone()
        K[0, 2] -= x0
        K[1, 2] -= y0
        Ks.append(scale_intrinsics(K, size / side, size / side))
    n = len(boxes)
    cams = Cameras(w2c.expand(n, 4, 4).clone(), torch.stack(Ks), size, size)
    return Views(torch.from_numpy(np.stack(rgbs)), torch.from_numpy(np.stack(masks)), cams,
                 Poses(*(t.expand(n, *t.shape[1:]) for t in (poses.joint_rotations, poses.root_translation,
                                                              poses.arkit_weights))))


def load_fit_data(bundle, image_size: int, crop_size: int, pseudo_frames: int, pseudo_size: int,
                  use_pseudo: bool = True) -> FitData:
    """Read the bundle's photo view (:func:`talkavatar.bundle.artifacts.read_photo_view`) and, when the pseudo
    stage exists, its outputs.

    Pseudo *frames* are loaded only with ``use_pseudo``; the pseudo texture, proxy and rig initialise the avatar
    whenever the pseudo stage exists.
    """
    view = artifacts.read_photo_view(bundle, by="fit")
    inputs = list(view.inputs)
    photo, mask = view.image, hard_mask(view.mask)
    full_w, full_h = view.params.image_size
    w, h, sx, sy = scaled_size(full_w, full_h, image_size)
    K_full = torch.from_numpy(view.intrinsics)
    w2c = torch.from_numpy(view.world_to_camera)
    pose0 = Poses(*(torch.from_numpy(a) for a in view.poses()))
    cam = Cameras(w2c[None], scale_intrinsics(K_full, sx, sy)[None], w, h)
    views = Views(torch.from_numpy(resize(photo, w, h))[None], torch.from_numpy(resize(mask, w, h))[None], cam, pose0)

    crops, names, face_xy, hands_xy, unseen = None, (), None, torch.zeros(0, 21, 2), ()
    detections = artifacts.read_detections(bundle)
    if detections is not None:
        inputs.append(artifacts.TRACK_DETECTIONS)
        one = _frame(detections, view.frame)
        if "face" in one and int(np.asarray(one["face_present"])[0]):
            face_xy = torch.from_numpy(np.asarray(one["face"][0], np.float32)[:, :2] * np.float32([sx, sy]))
        unseen = tuple(hidden_parts(one["body"][0], one["body_visibility"][0], full_w, full_h))
        hands = artifacts.detected_hands(detections, view.frame)
        if hands:
            hands_xy = torch.from_numpy(np.stack(hands) * np.float64([sx, sy])).float()
        boxes = crop_boxes(one, full_w, full_h)
        if boxes:
            crops = crop_views(photo, mask, K_full, w2c, pose0, boxes, crop_size)
            names = tuple(b[0] for b in boxes)

    pseudo = texture = proxy = None
    if bundle.record("pseudo") is not None:
        bundle.require("pseudo", by="fit")
        tex = artifacts.read_pseudo_texture(bundle)
        if tex is not None:
            texture = torch.from_numpy(np.asarray(tex, np.float32) / 255)
            inputs.append(artifacts.PSEUDO_TEXTURE)
        offsets = artifacts.read_pseudo_proxy(bundle)
        if offsets is not None:
            proxy = torch.from_numpy(offsets)
            inputs.append(artifacts.PSEUDO_PROXY)
        if use_pseudo and pseudo_frames > 0:
            pseudo = _pseudo_views(bundle, pseudo_frames, pseudo_size, inputs)
    rig = Rig.from_tensors(*artifacts.read_rig(bundle))
    inputs.append(artifacts.TRACK_RIG)
    if proxy is not None and proxy.shape != rig.vertices.shape:
        raise InvalidInput(f"{bundle.root}: {artifacts.PSEUDO_PROXY} has {list(proxy.shape)} offsets for a rig of "
                           f"{rig.vertices.shape[0]} vertices",
                           tip=f"rerun {stage_command('pseudo', bundle.root, force=True)}")
    return FitData(rig.to(dtype=torch.float32), views, crops, names, pseudo, texture, proxy, tuple(inputs),
                   face_xy=face_xy, hands_xy=hands_xy, unseen_parts=unseen)


def _frame(detections: dict, t: int) -> dict:
    """The detections of frame ``t`` as a one-frame batch."""
    return {k: v[t:t + 1] for k, v in detections.items()}


def _pseudo_views(bundle, count: int, size: int, inputs: list) -> Views | None:
    frames = artifacts.read_pseudo_frames(bundle, count)
    if frames is None:
        return None
    inputs.extend(frames.inputs)
    full_w, full_h = frames.image_size
    w, h, sx, sy = scaled_size(full_w, full_h, size)
    # resized on a thread pool (PIL releases the GIL) and made 0..1 once, in place, all frames together: the values
    # resize() gives one by one (tested equal), without its per-frame float copies and their stacking
    with ThreadPoolExecutor(max_workers=artifacts.image_workers()) as pool:
        small = np.stack(list(pool.map(lambda rgba: resized(rgba, w, h), frames.rgba)))
    p = frames.params
    K = scale_intrinsics(torch.from_numpy(p["intrinsics"]), sx, sy)
    cams = Cameras(torch.from_numpy(p["world_to_camera"]), K, w, h)
    poses = Poses(*(torch.from_numpy(p[k]) for k in artifacts.POSE_KEYS))
    rgb, alpha = small[..., :3].astype(np.float32), small[..., 3].astype(np.float32)
    rgb /= 255.0  # in place: no second copy of the frames
    alpha /= 255.0
    return Views(torch.from_numpy(rgb), torch.from_numpy(alpha), cams, poses)
