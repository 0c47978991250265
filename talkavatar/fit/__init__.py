"""The fit stage: learn the coupled Gaussian-mesh avatar (One Shot One Talk §3.1, §3.3) from the photo and its
pseudo-labels. Entry points: :func:`talkavatar.fit.stage.run_fit` (a bundle) and
:func:`talkavatar.pipeline.photo.fit_input` (a photo, video or bundle; runs track and pseudo when needed)."""
