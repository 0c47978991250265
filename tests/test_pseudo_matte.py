"""The person mask as a source of colours: the background the segmenter's mask took in at its border is found and
left out; the person, the face and a garment of the wall's colour away from the border are kept."""

from __future__ import annotations

import numpy as np
import torch

from talkavatar.core.body.landmarks import FACE_OVAL
from talkavatar.pseudo.matte import background_leak

WALL = np.array([150, 165, 210])


def scene():
    """A 200x200 photo: a blue wall; a dark-haired head (a disc) with a skin face; a shirt of the wall's colour at
    the bottom. The mask is the person plus a patch of wall beside the head, part of it in the head's shadow."""
    yy, xx = np.mgrid[:200, :200]
    image = np.empty((200, 200, 3), np.uint8)
    image[:] = WALL
    head = (xx - 100) ** 2 + (yy - 80) ** 2 < 50 ** 2
    image[head] = (30, 28, 36)
    face = head & ((xx - 95) ** 2 + (yy - 90) ** 2 < 30 ** 2)
    image[face] = (200, 150, 130)
    shirt = yy >= 150
    image[shirt] = WALL + 5
    patch = (xx >= 150) & (xx < 170) & (yy >= 90) & (yy < 150)
    image[patch & (xx < 160)] = (WALL * 0.65).astype(np.uint8)  # the wall in the head's shadow
    mask = head | shirt | patch
    return image, mask, head, face, patch, shirt


def test_the_wall_inside_the_mask_is_found_and_the_person_kept():
    image, mask, head, face, patch, shirt = scene()
    leak = background_leak(image, mask)
    assert leak[patch].mean() > 0.9
    assert not leak[head].any()
    assert leak[shirt & (np.mgrid[:200, :200][0] >= 175)].mean() < 0.05  # the shirt away from the border stays


def test_the_face_is_never_taken_for_the_wall():
    image, mask, head, face, patch, shirt = scene()
    image[face] = WALL  # a face lit like the wall
    landmarks = np.zeros((478, 2))
    angle = np.linspace(0, 2 * np.pi, len(FACE_OVAL), endpoint=False)
    landmarks[list(FACE_OVAL)] = np.stack([95 + 30 * np.cos(angle), 90 + 30 * np.sin(angle)], 1)
    assert not background_leak(image, mask, landmarks)[face].any()


def test_nothing_to_find_without_a_background():
    image, mask, *_ = scene()
    assert not background_leak(image, np.ones_like(mask)).any()
    assert not background_leak(image, np.zeros_like(mask)).any()


def test_texels_below_the_face_oval_see_the_neck_and_those_beside_it_the_head():
    from talkavatar.pseudo.stage import PhotoView, _off_face

    angle = np.linspace(0, 2 * np.pi, len(FACE_OVAL), endpoint=False)
    face = np.zeros((478, 2))
    face[list(FACE_OVAL)] = np.stack([100 + 30 * np.cos(angle), 80 + 40 * np.sin(angle)], 1)  # chin at y = 120
    view = PhotoView(np.zeros((200, 200, 3), np.uint8), np.ones((200, 200), bool), None, None, None, None, None,
                     None, (), face)
    pixels = torch.tensor([[100.0, 130.0], [100.0, 100.0], [140.0, 110.0], [100.0, 118.5], [250.0, 150.0]])
    below = _off_face(view, pixels).tolist()
    assert below == [True, False, False, True, False]  # under the chin; the face; beside it; its outline; outside
    assert _off_face(PhotoView(view.image, view.mask, None, None, None, None, None, None, (), None), pixels) is None


def test_a_greyscale_photo_tells_the_person_from_the_sky_by_brightness_alone():
    """soldier_bw: with no hue, a sleeve two thirds as bright as the sky passed for the sky (26 % of his mask)."""
    yy, xx = np.mgrid[:200, :200]
    image = np.full((200, 200, 3), 170, np.uint8)  # the sky
    arm = (yy >= 80) & (yy < 120) & (xx < 150)
    image[arm] = 115  # a grey sleeve, 0.68 of the sky's brightness
    patch = (yy >= 70) & (yy < 80) & (xx >= 100) & (xx < 130)  # the sky the segmenter took in above the arm
    leak = background_leak(image, arm | patch)
    assert leak[patch].mean() > 0.9
    assert leak[arm].mean() < 0.02
