"""Losses shared by fit and eval: image losses and metrics (L1, SSIM, PSNR), a perceptual distance
(LPIPS-VGG or EfficientNet-Lite0 features) and the mesh regularisers of the coupled Gaussian-mesh avatar.

The perceptual distance imports its network lazily: ``from talkavatar.core.losses import perceptual_distance``
costs nothing until it is called.
"""

from talkavatar.core.losses.image import l1, mse, psnr, ssim, ssim_loss, ssim_map
from talkavatar.core.losses.mesh import (face_pairs, gaussian_edges, laplacian, laplacian_smoothing, mesh_edges,
                                         mesh_gaussian_consistency, normal_consistency)
from talkavatar.core.losses.perceptual import PerceptualDistance, perceptual_distance, shared_distance

__all__ = ["l1", "mse", "psnr", "ssim", "ssim_loss", "ssim_map", "face_pairs", "gaussian_edges", "laplacian",
           "laplacian_smoothing", "mesh_edges", "mesh_gaussian_consistency", "normal_consistency",
           "PerceptualDistance", "perceptual_distance", "shared_distance"]
