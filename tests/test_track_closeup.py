"""Close-ups (issue 16's side_45, issue 17's selfies): a head or head-and-shoulders photo is recognised, its turned
face mesh trusted, and the focal length fitted as a dolly zoom. Hand-built detections; no MediaPipe."""

from __future__ import annotations

import numpy as np
import torch

from talkavatar.track.camera import project
from talkavatar.track.detect import empty_detection
from talkavatar.track.fit_frames import gate_detections, is_closeup
from talkavatar.track.fitting import _dolly_camera
from talkavatar.track.gating import gate

W, H = 512, 512


def _closeup(turned: bool = True, face_scale: float = 1.0):
    """A head filling most of a 512 px picture, turned 45 degrees: MediaPipe's body ears squeezed together (the far
    one guessed on the cheek), shoulders below the frame, no hips; the face mesh's forehead (10) to chin (152) 300 px."""
    det = empty_detection(H, W)
    body = {0: (100, 340), 2: (150, 290), 5: (105, 288), 7: (265, 314), 8: (165 if turned else 60, 308),
            9: (130, 400), 10: (100, 400), 11: (350, 550), 12: (190, 580), 23: (380, 1330), 24: (215, 1320)}
    for i, (x, y) in body.items():
        det.body[i] = (x, y, 0.0)
    det.body_visibility[:] = 0.95
    det.body_visibility[[23, 24]] = 0.05
    det.face_present = True
    rng = np.random.default_rng(0)
    centre = np.array([150.0, 330.0])
    det.face[:, :2] = centre + face_scale * rng.uniform((-100, -150), (110, 150), (478, 2))
    det.face[1, :2] = (95, 340)  # nose tip near the body's nose
    det.face[10, :2], det.face[152, :2] = centre + face_scale * np.array([[0, -150], [-20, 150]])
    det.face[234, :2], det.face[454, :2] = centre + face_scale * np.array([[-100, 0], [110, 0]])
    det.mask[40:, 40:400] = 1.0
    return det


def test_a_turned_close_up_face_mesh_is_kept_and_one_of_another_size_rejected():
    weights, rejected = gate(_closeup())  # its width is 2.1 x the squeezed ear distance: the old rule rejected it
    assert weights["face"].max() == 1 and not [r for r in rejected if r["group"] == "face"]
    weights, rejected = gate(_closeup(face_scale=0.3))  # a small mesh inside the head
    assert weights["face"].max() == 0 and rejected[0]["reason"] == "face mesh of another size than the head"


def test_a_close_up_is_a_large_face_with_no_hip_in_view():
    det = _closeup()
    gate_detections([det])
    assert is_closeup([det], (W, H))
    det = _closeup(face_scale=0.4)  # a face 120 px long (0.23 of the height): a half body or wider
    det.body[[2, 5, 9, 10], :2] = [[160, 315], [140, 315], [160, 360], [140, 360]]  # eyes to mouth 45 px
    gate_detections([det])
    assert det.trust["face"].max() == 1 and not is_closeup([det], (W, H))
    det = _closeup()
    det.body_visibility[[23, 24]] = 0.9
    det.body[[23, 24], 1] = 480  # hips in view
    gate_detections([det])
    assert not is_closeup([det], (W, H))


def test_the_dolly_zoom_keeps_the_size_at_its_depth_and_changes_the_perspective():
    K = torch.tensor([[500.0, 0, 256], [0, 500, 256], [0, 0, 1]])
    translation = torch.zeros(1, 3)
    near = torch.tensor([[0.1, 0.05, -0.5]])  # a point 0.5 m away (the face) and one 0.6 m away (a shoulder)
    far = torch.tensor([[0.2, -0.1, -0.6]])
    K2, moved = _dolly_camera(K, translation, torch.tensor(np.log(3.0)), depth=0.5)
    assert torch.allclose(K2[:2, 2], K[:2, 2]) and torch.isclose(K2[0, 0], torch.tensor(1500.0))
    same = project(near + moved, K2)
    assert torch.allclose(same, project(near, K), atol=1e-3)  # the face keeps its place and size
    before = (project(far, K) - K[:2, 2]).norm() / (project(near, K) - K[:2, 2]).norm()
    after = (project(far + moved, K2) - K[:2, 2]).norm() / (same - K[:2, 2]).norm()
    assert after > before * 1.05  # the shoulder behind it looks relatively larger: weaker perspective


def test_close_up_targets_drop_the_body_head_points_for_track_and_eval_alike():
    """`closeup_targets` (used by `track` and by eval's tracking with a known rig): a close-up loses the body's own
    head points (0-10: an ear guessed on the cheek fights the face mesh); a full body keeps them."""
    from talkavatar.track.camera import intrinsics
    from talkavatar.track.fit_frames import closeup_targets, fit_targets

    index = {"body": np.arange(33), "face": np.arange(478), "left_hand": np.arange(21), "right_hand": np.arange(21)}
    K = intrinsics(W, H, 600.0)
    close = [_closeup()]
    gate_detections(close)
    targets = fit_targets(close, [close[0].mask], K, (W, H), index, "cpu")
    before = targets.weights["body"].clone()
    assert before[0, :11].sum() > 0 and closeup_targets(close, targets, index)
    assert targets.weights["body"][0, :11].abs().sum() == 0
    assert torch.equal(targets.weights["body"][0, 11:], before[0, 11:])
    full = [_closeup()]
    full[0].body_visibility[[23, 24]] = 0.95  # hips in view: not a close-up
    full[0].body[[23, 24], 1] = (480, 470)
    gate_detections(full)
    targets = fit_targets(full, [full[0].mask], K, (W, H), index, "cpu")
    kept = targets.weights["body"].clone()
    assert not closeup_targets(full, targets, index) and torch.equal(targets.weights["body"], kept)
