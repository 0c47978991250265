"""The render stage: posing + rasterizing sequences, video/PNG writers with synced audio, PLY export.

Modules: ``config`` (RenderConfig), ``timeline`` (which pose each frame shows), ``camera_path`` (input/front/orbit),
``background`` and ``color`` (compositing, sRGB, Y'CbCr), ``frames`` (batched posing + rasterizing),
``audio_track`` (audio cut and sync), ``video`` (ffmpeg sink), ``pipeline`` (rendering overlapped with encoding),
``ply`` (3DGS PLY export), ``stage`` (:func:`run_render` of a :class:`Performance`; :func:`render_frames` for
poses under one camera). Speech is turned into motion by the pipeline (:mod:`talkavatar.pipeline.speech`).
"""
