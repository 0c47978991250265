"""The shared compute core (torch): rotations, skinning, body models and rigs, mesh-bound Gaussians, rasterization."""
