"""Moved to :mod:`talkavatar.core.silhouette` (fit's mask loss and metrics use it too); kept for track's imports."""

from talkavatar.core.silhouette import (downsample_mask, hard_silhouette, sample_points, soft_iou_loss,  # noqa: F401
                                        soft_silhouette, splat_density, surface_samples)
