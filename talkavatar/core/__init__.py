"""The shared compute core (torch): cameras, body models, skinning, UV binding, rasterization, losses."""
