"""Prediction: photos, boxes, crops and clips -> bodies.

The front door is `predictor.load_pipeline()` (one `Predictor`); behind it:

    read.py        a photo (EXIF, 16-bit), a clip, a person box
    detector.py    people found in a photo (BlazePose, the [detector] extra)
    photo_path.py  a detection -> readings -> adapter -> SMPLR -> fit
    crop_path.py   a box's crop -> image network -> (DAE) -> SMPLR
    video.py       tracks over a clip, one shape each, the temporal fit
    draw.py        overlays on photos and clips, video encoding
    write.py       every file format (OBJ, body.json, npz, BVH, glTF)
    demo.py        `smplr-jax demo`: read -> predict -> draw -> write

`prediction.py` documents every key a path returns, `settings.py` every
tuned setting; the fit itself is `smplr_jax.fitting`, the camera
`smplr_jax.camera`.
"""
