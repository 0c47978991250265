"""Body models: the BodyModel interface, its adapters (anny, smplx), personal rigs and landmark maps."""
