#!/usr/bin/env python3
"""Reference timing for DICOM angiogram ingestion with pydicom (+ pylibjpeg for JPEG Lossless).

Decodes every frame of FILE with pydicom's pixel_array, then builds a model input the way dsa-triage's
default does: log subtraction against the mask frame(s) of the Mask Subtraction Sequence (frame 1 when
absent), minimum-intensity projection of the subtracted contrast frames, a 0.5–99.5 % percentile window
to 8 bits. Prints one JSON line with the median of --runs in-process timings (imports excluded).

Run: pip install pydicom pylibjpeg pylibjpeg-libjpeg numpy
     python3 tools/bench_pydicom_angiogram.py RUN.dcm --runs 5
"""
import argparse, json, statistics, time
import numpy as np
import pydicom


def model_input(ds, frames):
    masks = [0]
    if "MaskSubtractionSequence" in ds:
        item = ds.MaskSubtractionSequence[0]
        if "MaskFrameNumbers" in item:
            v = item.MaskFrameNumbers
            masks = [int(x) - 1 for x in (v if isinstance(v, (list, pydicom.multival.MultiValue)) else [v])]
    slope = float(getattr(ds, "RescaleSlope", 1.0))
    intercept = float(getattr(ds, "RescaleIntercept", 0.0))
    values = frames.astype(np.float32) * slope + intercept
    mask = values[masks].mean(axis=0)
    contrast = [i for i in range(values.shape[0]) if i not in masks]
    log_mask = np.log(np.maximum(mask, 1.0))
    sub = np.log(np.maximum(values[contrast], 1.0)) - log_mask
    minip = sub.min(axis=0)
    lo, hi = np.percentile(minip, [0.5, 99.5])
    scaled = np.clip((minip - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    return np.rint(scaled * 255.0).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    decode, build, total = [], [], []
    for _ in range(args.runs + 1):
        t0 = time.perf_counter()
        ds = pydicom.dcmread(args.file)
        frames = ds.pixel_array
        t1 = time.perf_counter()
        img = model_input(ds, frames)
        t2 = time.perf_counter()
        decode.append(t1 - t0)
        build.append(t2 - t1)
        total.append(t2 - t0)
    # The first run warms caches and is not counted.
    med = lambda xs: statistics.median(xs[1:])
    print(json.dumps({"reader": "pydicom %s" % pydicom.__version__, "frames": int(frames.shape[0]),
                      "rows": int(frames.shape[1]), "columns": int(frames.shape[2]),
                      "decode_s": med(decode), "model_input_s": med(build), "total_s": med(total),
                      "image_shape": list(img.shape)}))


if __name__ == "__main__":
    main()
