"""Forward kinematics (pointer jumping vs. the level-by-level reference) and LBS helpers."""

import pytest
import torch

from talkavatar.core.rotations import axis_angle_to_matrix
from talkavatar.core.skinning import (KinematicTree, SparseWeights, dense_weights, forward_kinematics,
                                      forward_kinematics_by_level, linear_blend_skinning, skinning_transforms)
from talkavatar.motion.names import JOINT_PARENTS


def _random_tree(count, seed):
    g = torch.Generator().manual_seed(seed)
    return [-1] + [int(torch.randint(0, j, (1,), generator=g)) for j in range(1, count)]


@pytest.mark.parametrize("parents", [list(JOINT_PARENTS), _random_tree(40, 0), [-1], [-1, 0, 1, 2, 3, 4, 5, 6, 7]])
def test_pointer_jumping_matches_levels(parents):
    tree = KinematicTree.from_parents(parents)
    g = torch.Generator().manual_seed(1)
    rot = axis_angle_to_matrix(torch.randn(3, len(parents), 3, generator=g, dtype=torch.float64))
    joints = torch.randn(len(parents), 3, generator=g, dtype=torch.float64)
    fast, slow = forward_kinematics(tree, rot, joints), forward_kinematics_by_level(tree, rot, joints)
    assert torch.allclose(fast[0], slow[0], atol=1e-12) and torch.allclose(fast[1], slow[1], atol=1e-12)


def test_identity_pose_is_rest():
    tree = KinematicTree.from_parents(JOINT_PARENTS)
    joints = torch.randn(55, 3, dtype=torch.float64)
    rot, posed = forward_kinematics(tree, torch.eye(3, dtype=torch.float64).expand(2, 55, 3, 3), joints)
    assert torch.allclose(posed, joints.expand(2, -1, -1))
    assert torch.allclose(rot, torch.eye(3, dtype=torch.float64).expand_as(rot))
    transforms = skinning_transforms(rot, posed, joints)
    points = torch.randn(2, 10, 3, dtype=torch.float64)
    w = torch.softmax(torch.randn(10, 55, dtype=torch.float64), -1)
    assert torch.allclose(linear_blend_skinning(points, w, transforms)[0], points)


def test_gradcheck_fk():
    tree = KinematicTree.from_parents([-1, 0, 1, 1])
    rot = torch.randn(1, 4, 3, dtype=torch.float64, requires_grad=True)
    joints = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda r, j: forward_kinematics(tree, axis_angle_to_matrix(r), j), (rot, joints))


def test_bad_trees():
    for parents in ([0, 0], [-1, -1], [-1, 5], [-1, 2, 1]):
        with pytest.raises(ValueError):
            KinematicTree.from_parents(parents)


def test_dense_weights():
    idx = torch.tensor([[0, 2], [1, 1]])
    w = torch.tensor([[0.25, 0.75], [0.5, 0.5]])
    assert torch.equal(dense_weights(idx, w, 3), torch.tensor([[0.25, 0, 0.75], [0, 1.0, 0]]))


@pytest.mark.parametrize("batch", [1, 3])
def test_sparse_weights_skin_and_backpropagate_as_the_dense(batch):
    """CPU parity of the sparse skinning track uses: posed points, blended transforms and the gradient of the joint
    transforms as the dense product's (float64: to rounding), a subset of points as the dense rows'."""
    g = torch.Generator().manual_seed(3)
    points, joints, per_point = 50, 12, 3
    idx = torch.stack([torch.randperm(joints, generator=g)[:per_point] for _ in range(points)])
    dense = dense_weights(idx, torch.softmax(torch.randn(points, per_point, generator=g, dtype=torch.float64), -1),
                          joints)
    sparse = SparseWeights.of(dense)
    rest = torch.randn(1, points, 3, generator=g, dtype=torch.float64)
    transforms = torch.randn(batch, joints, 3, 4, generator=g, dtype=torch.float64)
    grads = []
    for weights in (dense, sparse):
        t = transforms.clone().requires_grad_(True)
        posed, blended = linear_blend_skinning(rest, weights, t)
        assert posed.shape == (batch, points, 3) and blended.shape == (batch, points, 3, 4)
        (posed.square().sum() + blended.sum()).backward()
        grads.append((posed.detach(), blended.detach(), t.grad))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-12)
    keep = torch.tensor([4, 0, 17])
    assert sparse.shape == dense.shape and torch.equal(sparse[keep].rows.to_dense(), dense[keep])
    assert torch.autograd.gradcheck(lambda t: linear_blend_skinning(rest, sparse, t)[0], transforms[:1].clone()
                                    .requires_grad_(True))
