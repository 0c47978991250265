"""Completion by body part and garment: a person in a uniform suit seen from the front only gets the suit's colour
on the back and legs; a portrait's never-seen legs get trousers, not skin; body parts from the skinning bones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from talkavatar.core.binding import Binding
from talkavatar.pseudo.complete import complete_texture
from talkavatar.pseudo.mesh import face_normals
from talkavatar.core.body.parts import PART, bone_part, texel_parts

SUIT = np.array([0.22, 0.30, 0.55])
SKIN = np.array([0.85, 0.63, 0.52])
SHOES = np.array([0.08, 0.08, 0.08])


def lab(srgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB colours [..., 3] in 0..1."""
    c = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def delta_e(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(lab(a) - lab(b), axis=-1)


def test_bone_names_of_both_body_models_map_to_parts():
    assert bone_part("upperarm02.L") == bone_part("left_shoulder") == PART["upper_arm"]
    assert bone_part("lowerleg01.R") == bone_part("right_knee") == PART["shin"]
    assert bone_part("finger3-2.L") == bone_part("right_index2") == PART["hand"]
    assert bone_part("shoulder01.R") == bone_part("spine03") == bone_part("left_collar") == PART["torso"]
    assert bone_part("neck02") == PART["neck"] and bone_part("jaw") == PART["head"]


@pytest.fixture(scope="module")
def suited():
    """The Anny rig at UV 128, its texels' parts, rest points and normals, and the suit 'photo' colours."""
    pytest.importorskip("anny")
    from tests.eval_fixtures import anny_rig

    rig = anny_rig().to(dtype=torch.float64)
    binding = Binding.from_uv(rig.face_uvs, 128)
    parts = texel_parts(rig, binding.face_index, binding.barycentrics)
    points = binding.surface_points(rig.vertices[None], rig.faces)[0].numpy()
    normals = face_normals(rig.vertices, rig.faces)[binding.face_index].numpy()
    colour = np.where(np.isin(parts, [PART["head"], PART["neck"], PART["hand"]])[:, None], SKIN, SUIT)
    colour[parts == PART["foot"]] = SHOES
    return rig, binding, parts, points, normals, colour


def complete(suited, seen):
    rig, binding, parts, points, normals, colour = suited
    conf = np.where(seen, np.clip(normals[:, 2], 0, 1), 0.0)
    rgb = torch.from_numpy(colour * (conf > 0)[:, None])
    texture, stats = complete_texture(rig, rig.vertices, binding, rgb, torch.from_numpy(conf))
    return texture[binding.texel[:, 1], binding.texel[:, 0]].astype(np.float64), stats


def test_a_suit_seen_from_the_front_continues_on_the_back_and_legs(suited):
    rig, binding, parts, points, normals, colour = suited
    got, stats = complete(suited, normals[:, 2] > 0.3)
    back = normals[:, 2] < -0.3
    for part in ("torso", "thigh", "shin", "upper_arm"):
        where = back & (parts == PART[part])
        assert np.median(delta_e(got[where], SUIT)) <= 10, part
        assert np.percentile(delta_e(got[where], SUIT), 90) <= 15, part


def test_a_portraits_never_seen_legs_get_trousers_not_skin(suited):
    rig, binding, parts, points, normals, colour = suited
    chest = np.percentile(points[parts == PART["head"], 1], 0) - 0.3
    got, stats = complete(suited, (normals[:, 2] > 0.3) & (points[:, 1] > chest))
    assert stats["dressed"] > 0.1
    legs = np.isin(parts, [PART["thigh"], PART["shin"]])
    assert np.percentile(delta_e(got[legs], SKIN), 5) > 20  # no bare, skin-coloured legs
    back = (normals[:, 2] < -0.3) & (parts == PART["torso"])
    assert np.median(delta_e(got[back], SUIT)) <= 10  # the seen jacket on the back
    hands = parts == PART["hand"]
    assert np.median(delta_e(got[hands], SKIN)) <= 10  # never-seen hands: the face's skin
    luminance = got[legs] @ np.array([0.2126, 0.7152, 0.0722])
    assert luminance.std() > 0.005  # shaded and grained, not a flat sticker


def head_heights(parts: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """([N] bool head texels, [N] height: 0 at the chin, 1 at the crown)."""
    head = parts == PART["head"]
    low, high = points[head, 1].min(), points[head, 1].max()
    return head, (points[:, 1] - low) / (high - low)


def test_hair_covers_the_back_of_the_head_and_the_chin_stays_skin(suited):
    """Seen from the front: hair on the crown, skin on the face, the jaw's underside only grazed and dark (the
    shadow under the chin). The back of the head gets the hair; the jaw's underside the skin, not the shadow."""
    rig, binding, parts, points, normals, colour = suited
    head, height = head_heights(parts, points)
    hair_colour = np.array([0.25, 0.16, 0.10])
    photo = colour.copy()
    photo[head & (height > 0.75)] = hair_colour
    underside = head & (height < 0.3) & (normals[:, 1] < -0.35) & (normals[:, 2] > -0.3)
    photo[underside] = 0.08
    seen = (normals[:, 2] > 0.3) | underside
    conf = np.where(underside, 0.2, np.where(seen, np.clip(normals[:, 2], 0, 1), 0.0))
    rgb = torch.from_numpy(photo * (conf > 0)[:, None])
    texture, _ = complete_texture(rig, rig.vertices, binding, rgb, torch.from_numpy(conf))
    got = texture[binding.texel[:, 1], binding.texel[:, 0]].astype(np.float64)
    back_of_head = head & (normals[:, 2] < -0.5) & (height > 0.45)
    assert np.median(delta_e(got[back_of_head], hair_colour)) <= 12
    assert np.median(delta_e(got[underside], SKIN)) <= 12


def test_the_collar_under_the_chin_and_the_wall_behind_the_hair_stay_out(suited):
    """A close-up: the fitted chin reaches below the real one and sees the collar (off the face oval), the neck
    sees the collar too, and the head's grazed sides mix the hair with the wall behind it (30 %). The chin and jaw
    get the skin, not the collar; the back of the head the hair, with no wall-coloured band."""
    rig, binding, parts, points, normals, colour = suited
    head = parts == PART["head"]
    low, high = points[head, 1].min(), points[head, 1].max()
    height = (points[:, 1] - low) / (high - low)
    hair_colour, collar, wall = np.array([0.12, 0.11, 0.14]), np.array([0.05, 0.06, 0.08]), np.array([0.6, 0.65, 0.8])
    photo = colour.copy()
    photo[head & (height > 0.6)] = hair_colour
    chin = head & (height < 0.2) & (normals[:, 2] > 0.3)
    photo[chin | (parts == PART["neck"])] = collar
    seen = (normals[:, 2] > 0.3) & (points[:, 1] > low - 0.15)
    conf = np.where(seen, np.clip(normals[:, 2], 0, 1), 0.0)
    edge = head & seen & (conf < 0.45) & (height > 0.3)
    photo[edge] = 0.7 * photo[edge] + 0.3 * wall
    rgb = torch.from_numpy(photo * (conf > 0)[:, None])
    texture, _ = complete_texture(rig, rig.vertices, binding, rgb, torch.from_numpy(conf),
                                  off_face=torch.from_numpy(chin))
    got = texture[binding.texel[:, 1], binding.texel[:, 0]].astype(np.float64)
    assert np.median(delta_e(got[chin], SKIN)) <= 12
    back_of_head = head & (normals[:, 2] < -0.5) & (height > 0.45)
    assert np.median(delta_e(got[back_of_head], hair_colour)) <= 8
    bands = np.floor(points[back_of_head, 1] / 0.02)
    worst = max(np.median(delta_e(got[back_of_head][bands == b], hair_colour)) for b in np.unique(bands))
    assert worst <= 12  # no stripe of the wall's colour


def test_a_shirt_seen_only_on_the_shoulders_dresses_the_back(suited):
    """A close-up shows a strip of shirt that the fit gives to the upper arms, hardly any torso: the back and the
    sleeves get the shirt's colour, not a default."""
    rig, binding, parts, points, normals, colour = suited
    shoulders = (parts == PART["upper_arm"]) & (points[:, 1] > np.percentile(points[parts == PART["upper_arm"], 1], 60))
    seen = (normals[:, 2] > 0.3) & ((parts == PART["head"]) | shoulders)
    got, _ = complete(suited, seen)
    back = (normals[:, 2] < -0.3) & (parts == PART["torso"])
    assert np.median(delta_e(got[back], SUIT)) <= 10


def test_a_throat_seen_on_a_close_ups_torso_does_not_make_it_bare(suited):
    """A close-up: the fitted torso's top sees the throat under the chin (lit and shaded skin: all the torso
    shows), the shoulders a strip of shirt. The torso's back and the sleeves get the shirt, not skin."""
    rig, binding, parts, points, normals, colour = suited
    torso = parts == PART["torso"]
    top = torso & (points[:, 1] > np.percentile(points[torso, 1], 94))
    shoulders = (parts == PART["upper_arm"]) & (points[:, 1] > np.percentile(points[parts == PART["upper_arm"], 1], 90))
    seen = (normals[:, 2] > 0.3) & ((parts == PART["head"]) | top | shoulders)
    photo = colour.copy()
    shade = np.linspace(0.6, 1.0, int(top.sum()))[:, None]  # the throat darkens towards the chin's shadow
    photo[top] = SKIN * shade
    assert (seen & top).sum() >= 40  # what the torso shows is all skin
    conf = np.where(seen, np.clip(normals[:, 2], 0, 1), 0.0)
    texture, _ = complete_texture(rig, rig.vertices, binding, torch.from_numpy(photo * (conf > 0)[:, None]),
                                  torch.from_numpy(conf))
    got = texture[binding.texel[:, 1], binding.texel[:, 0]].astype(np.float64)
    for part in ("torso", "upper_arm", "forearm"):
        where = (normals[:, 2] < -0.3) & (parts == PART[part])
        assert np.median(delta_e(got[where], SUIT)) <= 10, part


def test_a_bare_torso_the_photo_shows_stays_bare(suited):
    """A shirtless half-body photo: the torso's front seen as skin: its back and the arms are skin too."""
    rig, binding, parts, points, normals, colour = suited
    photo = colour.copy()
    bare = np.isin(parts, [PART["torso"], PART["upper_arm"], PART["forearm"]])
    photo[bare] = SKIN
    rgb = photo * (normals[:, 2] > 0.3)[:, None]
    conf = np.where(normals[:, 2] > 0.3, np.clip(normals[:, 2], 0, 1), 0.0)
    texture, _ = complete_texture(rig, rig.vertices, binding, torch.from_numpy(rgb), torch.from_numpy(conf))
    got = texture[binding.texel[:, 1], binding.texel[:, 0]].astype(np.float64)
    back = (normals[:, 2] < -0.3) & bare
    assert np.median(delta_e(got[back], SKIN)) <= 10


def test_a_held_object_on_a_gloved_hand_does_not_colour_the_hands(suited):
    """Black gloves, one holding a light-grey camera that covers part of its front: both hands end up the gloves'
    colour (camera: white blobs for hands once the camera's metal was mirrored onto the other hand)."""
    rig, binding, parts, points, normals, colour = suited
    glove, metal = np.array([0.05, 0.05, 0.05]), np.array([0.62, 0.62, 0.60])
    photo = colour.copy()
    hands = parts == PART["hand"]
    photo[hands] = glove
    seen = normals[:, 2] > 0.3
    right = hands & seen & (points[:, 0] < 0)
    held = right & (points[:, 1] > np.median(points[right, 1]))  # the camera over the upper half of its front
    photo[held] = metal
    seen &= ~(hands & (points[:, 0] > 0))  # the other hand behind the camera: unseen
    conf = np.where(seen, np.clip(normals[:, 2], 0, 1), 0.0)
    texture, stats = complete_texture(rig, rig.vertices, binding, torch.from_numpy(photo * (conf > 0)[:, None]),
                                      torch.from_numpy(conf))
    got = texture[binding.texel[:, 1], binding.texel[:, 0]].astype(np.float64)
    assert stats["held"] > 0
    assert np.median(delta_e(got[hands], glove)) <= 5
    assert delta_e(got[hands], metal).min() > 30  # no light blobs on either hand


def test_a_turned_faces_unseen_far_cheek_is_skin_not_the_hair_at_its_height(suited):
    """A face turned away (only its near side seen), hair over the near ear at cheek height: the far cheek, which
    neither the photo nor its mirror shows, is skin (side_45: dark strokes of the hair's colour across it)."""
    rig, binding, parts, points, normals, colour = suited
    head, height = head_heights(parts, points)
    hair_colour = np.array([0.10, 0.08, 0.08])
    photo = colour.copy()
    side = head & (normals[:, 0] > 0.6)  # the near side of the head, seen at a grazing angle: hair over the ear
    photo[side | (head & (height > 0.75))] = hair_colour
    near = head & (points[:, 0] > 0.01) & (normals[:, 2] > 0.3)
    seen = ~head & (normals[:, 2] > 0.3) | near | side | (head & (height > 0.75) & (normals[:, 2] > 0))
    conf = np.where(seen, np.where(side, 0.2, np.clip(normals[:, 2], 0.2, 1)), 0.0)
    far_cheek = head & (points[:, 0] < -0.03) & (normals[:, 2] > 0.5) & (height > 0.3) & (height < 0.5)
    conf[far_cheek] = 0.0
    near_cheek = head & (points[:, 0] > 0.03) & (normals[:, 2] > 0.5) & (height > 0.3) & (height < 0.5)
    conf[near_cheek] = 0.0  # nor its mirror
    texture, _ = complete_texture(rig, rig.vertices, binding, torch.from_numpy(photo * (conf > 0)[:, None]),
                                  torch.from_numpy(conf))
    got = texture[binding.texel[:, 1], binding.texel[:, 0]].astype(np.float64)
    assert np.median(delta_e(got[far_cheek], SKIN)) <= 12


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run through the device tool)")
@pytest.mark.parametrize("yaw", [None, 80.0])
def test_completion_on_cuda_matches_the_cpu(suited, yaw):
    """Every completion step on CUDA (float64; other summation orders, atomics) against the CPU reference, on a
    photo of a suit with grain, seen from the front, a hand hiding the forehead (and, at 80 degrees, completed as a
    profile): the texels within one level of 255 but where a threshold tips (at most 0.1 % of them), every step's
    share of texels within 0.001."""
    rig, binding, parts, points, normals, colour = suited
    head, height = head_heights(parts, points)
    grain = np.random.default_rng(2).normal(0.0, 0.03, (len(colour), 1))
    conf = np.where(normals[:, 2] > 0.3, np.clip(normals[:, 2], 0, 1), 0.0)
    behind = head & (height > 0.6) & (normals[:, 2] > 0.5)
    conf[behind] = 0.0
    rgb = torch.from_numpy(np.clip(colour + grain, 0, 1) * (conf > 0)[:, None])
    runs = [complete_texture(rig, rig.vertices, binding, rgb.to(device), torch.from_numpy(conf).to(device),
                             behind_hand=torch.from_numpy(behind), face_yaw=yaw, device=device)
            for device in ("cpu", "cuda")]
    (cpu, cpu_stats), (gpu, gpu_stats) = runs
    assert cpu_stats.keys() == gpu_stats.keys() and ("profile_front" in cpu_stats) == (yaw is not None)
    assert all(abs(cpu_stats[k] - gpu_stats[k]) <= 1e-3 for k in cpu_stats), (cpu_stats, gpu_stats)
    levels = np.abs(cpu - gpu).max(-1)[binding.texel[:, 1], binding.texel[:, 0]] * 255
    assert (levels > 1.01).mean() <= 1e-3 and np.isfinite(gpu).all()
