"""Metrics and reports: how close an avatar's renders come to references, and how well it obeys its controls.

Modules, one concept each: :mod:`image_metrics` (PSNR/SSIM/L1/perceptual, masked), :mod:`identity` (dlib face
embedding), :mod:`control` (landmarks detected on renders vs the landmarks a motion asked for), :mod:`lipsync`
(mouth opening vs the speech envelope), :mod:`reenact` (self-reenactment of a reference video),
:mod:`rendered` (a rendered clip: identity, control, lip sync), :mod:`report` (table, JSON, plots, contact sheet)
and :mod:`config` (``EvalConfig``). The measurements take arrays; :mod:`talkavatar.pipeline.evaluate` feeds them
from the track stage (video, detections, tracking) and the render stage (frames, cameras).
"""
