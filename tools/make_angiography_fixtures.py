#!/usr/bin/env python3
"""Writes the angiography pipeline fixtures into Tests/Fixtures/angiography.

For each NAME.dcm (small synthetic XA runs and out-of-scope objects, written with pydicom) it writes NAME.json
with the header facts pydicom reads and the expected routing, and, for images, the expected pipeline
results computed here independently in numpy from the formulas documented in docs/DICOM.md:
  NAME.stored.npy       stored values as pydicom decodes them (frames × rows × columns [× samples])
  NAME.sub.npy          float32 display values of the frames offered to the frame strategy
  NAME.minip.npy        float32 per-pixel minimum of those frames
  NAME.model_minip.npy  uint8 model image with the minimum-intensity-projection strategy
  NAME.model_peak.npy   uint8 model image with the peak-opacification strategy
  NAME.model_every.npy  uint8 model images (frames × rows × columns) with the every-frame strategy
Synthetic data only: no real patient, no real identifiers.
Run: python3 tools/make_angiography_fixtures.py   (needs pydicom and numpy)
"""
import json, os
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "angiography")
XA = "1.2.840.10008.5.1.4.1.1.12.1"
EXA = "1.2.840.10008.5.1.4.1.1.12.1.1"
RF = "1.2.840.10008.5.1.4.1.1.12.2"
ROOT = "1.2.826.0.1.3680043.8.498.7777."
STUDY = ROOT + "1"
_counter = [100]


def uid():
    _counter[0] += 1
    return ROOT + str(_counter[0])


# ---------------------------------------------------------------- synthetic content

def vessel_map(rows, cols, rng):
    """0..1 map of a small branching tree (thick trunk, two branches), smooth edges."""
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    m = np.zeros((rows, cols))
    def segment(y0, x0, y1, x1, r):
        d = np.array([y1 - y0, x1 - x0], dtype=np.float64)
        L2 = (d ** 2).sum()
        t = np.clip(((y - y0) * d[0] + (x - x0) * d[1]) / L2, 0, 1)
        dist = np.hypot(y - (y0 + t * d[0]), x - (x0 + t * d[1]))
        return np.clip(r + 0.5 - dist, 0, 1)
    m = np.maximum(m, segment(0, cols * 0.5, rows * 0.55, cols * 0.45, max(1.5, cols / 20)))
    m = np.maximum(m, segment(rows * 0.55, cols * 0.45, rows - 1, cols * 0.15, max(1.0, cols / 32)))
    m = np.maximum(m, segment(rows * 0.55, cols * 0.45, rows - 1, cols * 0.8, max(1.0, cols / 32)))
    return m


def lin_run(rows, cols, weights, seed, peak=3000.0, bits=12):
    """Stored values of a LIN run: detected intensity, vessels darker as contrast arrives."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    anatomy = peak * (0.75 + 0.2 * np.cos(y / rows * 3.0) * np.sin(x / cols * 2.0 + 0.3))
    v = vessel_map(rows, cols, rng)
    frames = []
    for w in weights:
        img = anatomy * np.exp(-1.2 * w * v) + rng.normal(0, 6, (rows, cols))
        frames.append(np.clip(np.round(img), 0, 2 ** bits - 1))
    return np.array(frames, dtype=np.uint16)


def log_run(rows, cols, weights, seed, bits=12):
    """Stored values proportional to log intensity."""
    lin = lin_run(rows, cols, weights, seed).astype(np.float64)
    return np.clip(np.round(np.log(np.maximum(lin, 1)) / np.log(4096) * (2 ** bits - 1)), 0, 2 ** bits - 1).astype(np.uint16)


def subtracted_run(rows, cols, weights, seed, bits=12):
    """An already subtracted run: background near mid-range, vessels lower."""
    rng = np.random.default_rng(seed)
    v = vessel_map(rows, cols, rng)
    mid = 2 ** (bits - 1)
    frames = [np.clip(np.round(mid - 900 * w * v + rng.normal(0, 5, (rows, cols))), 0, 2 ** bits - 1) for w in weights]
    return np.array(frames, dtype=np.uint16)


# ---------------------------------------------------------------- datasets

def base(sop_class, modality, rows, cols, frames=None, bits_alloc=16, bits_stored=12, signed=False, photometric="MONOCHROME2",
         samples=1, series=None):
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid()
    ds.Modality = modality
    ds.PatientName = "Synthetic^Angio"
    ds.PatientID = "SYNTH-ANGIO-0001"
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = series or uid()
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Rows = rows
    ds.Columns = cols
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    if samples > 1:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = bits_alloc
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if frames is not None:
        ds.NumberOfFrames = str(frames)
        ds.FrameTime = "66.7"
        ds.FrameIncrementPointer = 0x00181063
    return ds


def xa(rows, cols, frames, image_type, pir="LIN", **kw):
    ds = base(XA, "XA", rows, cols, frames=frames if frames > 1 else None, **kw)
    ds.ImageType = image_type
    if pir:
        ds.PixelIntensityRelationship = pir
        ds.PixelIntensityRelationshipSign = 1
    return ds


def mask_item(op="AVG_SUB", masks=None, frame_range=None, averaging=None, shift=None, tid_offset=None):
    it = Dataset()
    it.MaskOperation = op
    if masks is not None:
        it.MaskFrameNumbers = masks
    if frame_range is not None:
        it.ApplicableFrameRange = frame_range
    if averaging is not None:
        it.ContrastFrameAveraging = averaging
    if shift is not None:
        it.MaskSubPixelShift = shift
    if tid_offset is not None:
        it.TIDOffset = tid_offset
    return it


def save(ds, name, pixels, ts=ExplicitVRLittleEndian):
    if pixels is not None:
        ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = ROOT + "0"
    ds.file_meta = meta
    path = os.path.join(OUT, name + ".dcm")
    ds.save_as(path, enforce_file_format=True)
    return path


# ---------------------------------------------------------------- reference pipeline (numpy, float64)

def modality_values(ds, stored, frame):
    """Rescale of frame `frame` (0-based): per-frame Pixel Value Transformation, shared, or top level;
    a Modality LUT Sequence through pydicom's own apply_modality_lut."""
    if "ModalityLUTSequence" in ds:
        from pydicom.pixels import apply_modality_lut
        return apply_modality_lut(stored, ds).astype(np.float64)
    slope, intercept = 1.0, 0.0
    src = ds
    pf = ds.get("PerFrameFunctionalGroupsSequence")
    sh = ds.get("SharedFunctionalGroupsSequence")
    if pf is not None and "PixelValueTransformationSequence" in pf[frame]:
        src = pf[frame].PixelValueTransformationSequence[0]
    elif sh is not None and "PixelValueTransformationSequence" in sh[0]:
        src = sh[0].PixelValueTransformationSequence[0]
    if "RescaleSlope" in src:
        slope = float(src.RescaleSlope)
    if "RescaleIntercept" in src:
        intercept = float(src.RescaleIntercept)
    return stored.astype(np.float64) * slope + intercept


def shifted(m, drow, dcol):
    """Mask resampled bilinearly at (r - drow, c + dcol), coordinates clamped to the image."""
    rows, cols = m.shape
    yy = np.clip(np.arange(rows) - drow, 0, rows - 1)
    xx = np.clip(np.arange(cols) + dcol, 0, cols - 1)
    y0 = np.floor(yy).astype(int); y1 = np.minimum(y0 + 1, rows - 1); fy = (yy - y0)[:, None]
    x0 = np.floor(xx).astype(int); x1 = np.minimum(x0 + 1, cols - 1); fx = (xx - x0)[None, :]
    top = m[y0][:, x0] * (1 - fx) + m[y0][:, x1] * fx
    bot = m[y1][:, x0] * (1 - fx) + m[y1][:, x1] * fx
    return top * (1 - fy) + bot * fy


def reference_subtraction(ds, stored, items, pir, bits):
    """Returns (frame numbers, float64 frames, mask frames used)."""
    n = stored.shape[0]
    lin = np.array([modality_values(ds, stored[f], f) for f in range(n)])
    if pir == "LIN":
        T = lambda x: np.log(np.maximum(x, 1.0))
    else:
        T = lambda x: x / (2.0 ** bits - 1)
    numbers, frames, used = [], [], set()
    for f in range(1, n + 1):
        for it in items:
            rng = it.get("range")
            if rng is not None and not any(rng[i] <= f <= rng[i + 1] for i in range(0, len(rng), 2)):
                continue
            if it["op"] == "AVG_SUB":
                if f in it["masks"]:
                    break
                masks = it["masks"]
            else:
                if f - it.get("tid", 1) < 1:
                    break
                masks = [f - it.get("tid", 1)]
            m = np.mean([lin[k - 1] for k in masks], axis=0)
            if it.get("shift") is not None:
                m = shifted(m, *it["shift"])
            avg = it.get("averaging", 1)
            c = np.mean([lin[k - 1] for k in range(f, min(f + avg - 1, n) + 1)], axis=0)
            numbers.append(f)
            frames.append(T(c) - T(m))
            used.update(masks)
            break
    return numbers, np.array(frames), sorted(used)


def window_linear(x, c, w):
    lo, hi = c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
    return np.where(x <= lo, 0.0, np.where(x > hi, 255.0, y))


def window_linear_exact(x, c, w):
    y = ((x - c) / w + 0.5) * 255
    return np.where(x <= c - w / 2, 0.0, np.where(x > c + w / 2, 255.0, y))


def window_sigmoid(x, c, w):
    return 255.0 / (1 + np.exp(-4 * (x - c) / w))


def quantize(y, invert):
    g = np.floor(np.clip(y, 0, 255) + 0.5).astype(np.uint8)
    return (255 - g).astype(np.uint8) if invert else g


def percentile_window(values, lo_p=0.5, hi_p=99.5):
    lo, hi = np.percentile(values, [lo_p, hi_p])
    if hi > lo:
        return "percentile", lo, hi
    if values.max() > values.min():
        return "min-max", values.min(), values.max()
    return "flat", values.min(), values.min()


def render(values, window, invert):
    """window: ('file', fn, c, w) or a percentile_window tuple."""
    if window[0] == "file":
        _, fn, c, w = window
        y = {"LINEAR": window_linear, "LINEAR_EXACT": window_linear_exact, "SIGMOID": window_sigmoid}[fn](values, c, w)
    elif window[0] == "flat":
        return np.full(values.shape, 128, dtype=np.uint8)
    else:
        _, lo, hi = window
        y = (values - lo) / (hi - lo) * 255
    return quantize(y, invert)


def write_expectations(name, ds, stored, meta, numbers, frames, computed, file_window=None, invert=False):
    """Writes NAME.sub/minip/model_* and fills meta (the JSON) with frame facts and windows."""
    np.save(os.path.join(OUT, name + ".sub.npy"), frames.astype(np.float32))
    minip = frames.min(axis=0)
    np.save(os.path.join(OUT, name + ".minip.npy"), minip.astype(np.float32))
    means = frames.reshape(len(frames), -1).mean(axis=1)
    peak_k = int(np.argmin(means))
    meta["candidate_frames"] = numbers
    meta["peak_frame"] = numbers[peak_k]
    meta["frame_means"] = [float(m) for m in means]
    results = {}
    for strategy, images in (("minip", [minip]), ("peak", [frames[peak_k]]), ("every", list(frames))):
        if len(frames) == 1:
            images = [frames[0]]
        if file_window is not None and not computed:
            window = ("file",) + file_window
        else:
            basis = images[0] if len(images) == 1 else minip
            window = percentile_window(basis)
        out = np.array([render(im, window, invert and not computed) for im in images])
        results[strategy] = {"window": [window[0]] + [float(v) if not isinstance(v, str) else v for v in window[1:]]}
        if strategy == "every":
            np.save(os.path.join(OUT, name + ".model_every.npy"), out)
        else:
            np.save(os.path.join(OUT, name + ".model_%s.npy" % strategy), out[0])
    meta["windows"] = results


def header_facts(ds, path, route, reason):
    f = pydicom.dcmread(path)
    facts = {
        "sop_class_uid": str(f.SOPClassUID),
        "modality": str(f.get("Modality", "")),
        "transfer_syntax_uid": str(f.file_meta.TransferSyntaxUID),
        "route": route,
        "reason": reason,
    }
    if "PixelData" in f:
        facts.update({"rows": int(f.Rows), "columns": int(f.Columns), "frames": int(f.get("NumberOfFrames", 1)),
                      "bits_stored": int(f.BitsStored), "photometric_interpretation": str(f.PhotometricInterpretation),
                      "samples_per_pixel": int(f.SamplesPerPixel)})
        arr = f.pixel_array
        if int(f.get("NumberOfFrames", 1)) == 1:
            arr = arr[None]
        np.save(os.path.join(OUT, os.path.basename(path)[:-4] + ".stored.npy"), arr)
        facts["stored_dtype"] = str(arr.dtype)
    return facts


def write_json(name, meta):
    with open(os.path.join(OUT, name + ".json"), "w") as fh:
        json.dump(meta, fh, indent=1, sort_keys=True)


IN, OUTS = "in-scope modality", "out-of-scope modality"


def native_fixture(name, rows, cols, weights, items, pir="LIN", seed=1, fallback_mask=None, extra=None, store_items=True):
    stored = lin_run(rows, cols, weights, seed) if pir == "LIN" else log_run(rows, cols, weights, seed)
    ds = xa(rows, cols, len(weights), ["ORIGINAL", "PRIMARY", "SINGLE A"], pir=pir)
    if store_items and items:
        seq = []
        for it in items:
            seq.append(mask_item(it["op"], it.get("masks"), it.get("range"), it.get("averaging"), it.get("shift"),
                                 it.get("tid")))
        ds.MaskSubtractionSequence = Sequence(seq)
        ds.RecommendedViewingMode = "SUB"
    if extra:
        extra(ds)
    path = save(ds, name, stored)
    meta = header_facts(ds, path, "triage", IN)
    ref_items = items if store_items else [{"op": "AVG_SUB", "masks": [fallback_mask or 1]}]
    numbers, frames, used = reference_subtraction(ds, stored, ref_items, pir, 12)
    meta["mask_frames"] = used
    meta["subtraction"] = "mask-subtraction-sequence" if store_items else "configured-mask-frame"
    write_expectations(name, ds, stored, meta, numbers, frames, computed=True)
    write_json(name, meta)


def file_values_fixture(name, ds, stored, file_window=None, invert=False, subtraction="already-subtracted"):
    path = save(ds, name, stored)
    meta = header_facts(ds, path, "triage", IN)
    frames = np.array([modality_values(ds, stored[f], f) for f in range(stored.shape[0])])
    meta["subtraction"] = subtraction
    meta["mask_frames"] = []
    write_expectations(name, ds, stored, meta, list(range(1, len(frames) + 1)), frames, computed=False,
                       file_window=file_window, invert=invert)
    write_json(name, meta)


def out_of_scope(name, sop, modality, rows=16, cols=16, bits_alloc=16, bits_stored=12, signed=False, samples=1,
                 photometric="MONOCHROME2", frames=None, pixels=True, route="skip", reason=OUTS, sop_for_file=None):
    ds = base(sop, modality, rows, cols, frames=frames, bits_alloc=bits_alloc, bits_stored=bits_stored, signed=signed,
              photometric=photometric, samples=samples)
    rng = np.random.default_rng(len(name))
    n = frames or 1
    shape = (n, rows, cols) + ((samples,) if samples > 1 else ())
    if bits_alloc == 8:
        arr = rng.integers(0, 256, shape).astype(np.uint8)
    elif signed:
        arr = rng.integers(-1024, 2000, shape).astype(np.int16)
        ds.RescaleIntercept = "0"
        ds.RescaleSlope = "1"
    else:
        arr = rng.integers(0, 2 ** bits_stored, shape).astype(np.uint16)
    if not pixels:
        for k in ["Rows", "Columns", "SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated", "BitsStored",
                  "HighBit", "PixelRepresentation", "PlanarConfiguration"]:
            if k in ds:
                delattr(ds, k)
        ds.ContentDate = "20240101"
        arr = None
    path = save(ds, name, arr[0] if (arr is not None and n == 1) else arr)
    write_json(name, header_facts(ds, path, route, reason))


def main():
    os.makedirs(OUT, exist_ok=True)
    import shutil
    for f in os.listdir(OUT):
        full = os.path.join(OUT, f)
        shutil.rmtree(full) if os.path.isdir(full) else os.remove(full)
    w6 = [0.0, 0.0, 0.35, 1.0, 0.6, 0.2]
    # 6-frame 64×64 LIN run, mask frames 1 and 2 averaged.
    native_fixture("xa_lin_avgsub", 64, 64, w6, [{"op": "AVG_SUB", "masks": [1, 2]}], seed=11)
    # Mask 1, applicable frames 2–5, contrast frames averaged in pairs, sub-pixel mask shift.
    native_fixture("xa_lin_shift", 32, 32, w6, [{"op": "AVG_SUB", "masks": [1], "range": [2, 5], "averaging": 2,
                                                  "shift": [0.25, -0.5]}], seed=12)
    # LOG run.
    native_fixture("xa_log", 32, 32, w6, [{"op": "AVG_SUB", "masks": [1]}], pir="LOG", seed=13)
    # Time interval differencing, offset 2.
    native_fixture("xa_tid", 32, 32, w6, [{"op": "TID", "tid": 2}], seed=14)
    # No mask sequence: the configured mask frame (default 1; the tests also ask for 2).
    native_fixture("xa_nomask", 32, 32, w6, [], seed=15, store_items=False)
    native_fixture("xa_nomask_mask2", 32, 32, w6, [], seed=15, store_items=False, fallback_mask=2)
    os.remove(os.path.join(OUT, "xa_nomask_mask2.dcm"))  # same file as xa_nomask; only the expectations differ
    # Already subtracted, no window: percentile window.
    ds = xa(32, 32, 4, ["DERIVED", "SECONDARY", "SINGLE A", "SUBTRACTION"], pir="LIN")
    file_values_fixture("xa_subtracted", ds, subtracted_run(32, 32, [0.2, 0.7, 1.0, 0.4], 16))
    # Already subtracted with a LINEAR_EXACT window.
    ds = xa(32, 32, 3, ["DERIVED", "SECONDARY", "SINGLE A", "DSA"], pir="LIN")
    ds.WindowCenter = "1700"
    ds.WindowWidth = "900"
    ds.VOILUTFunction = "LINEAR_EXACT"
    file_values_fixture("xa_subtracted_exact", ds, subtracted_run(32, 32, [0.3, 1.0, 0.5], 17),
                        file_window=("LINEAR_EXACT", 1700.0, 900.0))
    # Single subtracted frame with a SIGMOID window.
    ds = xa(32, 32, 1, ["DERIVED", "SECONDARY", "SINGLE A", "SUBTRACTION"], pir="LIN")
    ds.WindowCenter = "1800"
    ds.WindowWidth = "600"
    ds.VOILUTFunction = "SIGMOID"
    file_values_fixture("xa_sigmoid", ds, subtracted_run(32, 32, [1.0], 18), file_window=("SIGMOID", 1800.0, 600.0))
    # Single-frame native MONOCHROME1 with rescale and two windows (the first is used), LINEAR.
    ds = xa(32, 32, 1, ["ORIGINAL", "PRIMARY", "SINGLE A"], pir="LIN", photometric="MONOCHROME1")
    ds.RescaleSlope = "0.5"
    ds.RescaleIntercept = "100"
    ds.WindowCenter = ["1000", "1500"]
    ds.WindowWidth = ["800", "2000"]
    file_values_fixture("xa_mono1", ds, lin_run(32, 32, [1.0], 19), file_window=("LINEAR", 1000.0, 800.0), invert=True,
                        subtraction="not-subtracted")
    # Already subtracted 2-frame run with a Modality LUT Sequence (a table, not a rescale); pydicom's
    # apply_modality_lut gives the expected modality values.
    ds = xa(16, 16, 2, ["DERIVED", "SECONDARY", "SINGLE A", "SUBTRACTION"], pir="LIN")
    lut_item = Dataset()
    lut_item.add_new(0x00283002, "US", [4096, 0, 16])  # LUT Descriptor
    lut_item.ModalityLUTType = "US"
    lut_item.add_new(0x00283006, "US", [int(round(4095 * (i / 4095) ** 0.5)) for i in range(4096)])  # LUT Data
    ds.ModalityLUTSequence = Sequence([lut_item])
    file_values_fixture("xa_modality_table", ds, subtracted_run(16, 16, [0.6, 1.0], 25))
    # Enhanced XA: 4 frames, per-frame rescale intercepts, PIR and Frame Type in the per-frame groups.
    stored = lin_run(32, 32, [0.0, 0.5, 1.0, 0.3], 20)
    ds = base(EXA, "XA", 32, 32, frames=4)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "VASCULAR", "NONE"]
    shared = Dataset()
    voi = Dataset(); voi.WindowCenter = "2000"; voi.WindowWidth = "4000"
    shared.FrameVOILUTSequence = Sequence([voi])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per = []
    for f in range(4):
        item = Dataset()
        pvt = Dataset(); pvt.RescaleIntercept = str(10 * f); pvt.RescaleSlope = "1"; pvt.RescaleType = "US"
        item.PixelValueTransformationSequence = Sequence([pvt])
        props = Dataset(); props.FrameType = ["ORIGINAL", "PRIMARY", "VASCULAR", "NONE"]
        props.PixelIntensityRelationship = "LIN"; props.PixelIntensityRelationshipSign = 1
        item.FramePixelDataPropertiesSequence = Sequence([props])
        per.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per)
    ds.MaskSubtractionSequence = Sequence([mask_item("AVG_SUB", [1])])
    path = save(ds, "exa_enhanced", stored)
    meta = header_facts(ds, path, "triage", IN)
    numbers, frames, used = reference_subtraction(ds, stored, [{"op": "AVG_SUB", "masks": [1]}], "LIN", 12)
    meta["mask_frames"] = used
    meta["subtraction"] = "mask-subtraction-sequence"
    write_expectations("exa_enhanced", ds, stored, meta, numbers, frames, computed=True)
    write_json("exa_enhanced", meta)
    # XA SOP class with a Modality that disagrees: routed by SOP class.
    ds = xa(16, 16, 1, ["DERIVED", "SECONDARY", "SINGLE A", "SUBTRACTION"], pir="LIN")
    ds.Modality = "CT"
    path = save(ds, "xa_modality_ct", subtracted_run(16, 16, [1.0], 21))
    write_json("xa_modality_ct", header_facts(ds, path, "triage", IN))
    # Radiofluoroscopy: triaged only when enabled. Native 3-frame LIN run without a mask sequence.
    ds = base(RF, "RF", 16, 16, frames=3)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "SINGLE A"]
    ds.PixelIntensityRelationship = "LIN"
    path = save(ds, "rf_run", lin_run(16, 16, [0.0, 1.0, 0.5], 22))
    write_json("rf_run", header_facts(ds, path, "skip", OUTS))
    # Out of scope.
    out_of_scope("ct", "1.2.840.10008.5.1.4.1.1.2", "CT", signed=True, bits_stored=16)
    out_of_scope("mr", "1.2.840.10008.5.1.4.1.1.4", "MR")
    out_of_scope("us_rgb", "1.2.840.10008.5.1.4.1.1.6.1", "US", bits_alloc=8, bits_stored=8, samples=3, photometric="RGB")
    out_of_scope("cr", "1.2.840.10008.5.1.4.1.1.1", "CR", photometric="MONOCHROME1")
    out_of_scope("dx", "1.2.840.10008.5.1.4.1.1.1.1", "DX")
    out_of_scope("sr", "1.2.840.10008.5.1.4.1.1.88.22", "SR", pixels=False)
    # Implicit VR little endian XA (the pipeline must not care about the transfer syntax).
    ds = xa(16, 16, 1, ["DERIVED", "SECONDARY", "SINGLE A", "SUBTRACTION"], pir="LIN")
    path = save(ds, "xa_implicit", subtracted_run(16, 16, [1.0], 23), ts=ImplicitVRLittleEndian)
    write_json("xa_implicit", header_facts(ds, path, "triage", IN))
    # A mask frame number past the end of the run: a clear error.
    ds = xa(16, 16, 3, ["ORIGINAL", "PRIMARY", "SINGLE A"], pir="LIN")
    ds.MaskSubtractionSequence = Sequence([mask_item("AVG_SUB", [9])])
    save(ds, "xa_bad_mask", lin_run(16, 16, [0.0, 1.0, 0.5], 24))
    write_catalog()


def write_catalog():
    """catalog/: two studies; study A has a series of two instances stored out of order and a second series."""
    root = os.path.join(OUT, "catalog")
    os.makedirs(os.path.join(root, "a", "run1"), exist_ok=True)
    os.makedirs(os.path.join(root, "b"), exist_ok=True)
    study_a, study_b = uid(), uid()
    series_a1, series_a2, series_b1 = uid(), uid(), uid()
    files = []
    def one(rel, study, series, series_number, instance):
        ds = xa(8, 8, 1, ["DERIVED", "SECONDARY", "SINGLE A", "SUBTRACTION"], pir="LIN")
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.SeriesNumber = series_number
        ds.InstanceNumber = instance
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.PixelData = subtracted_run(8, 8, [1.0], instance).tobytes()
        ds.save_as(os.path.join(root, rel), enforce_file_format=True)
        files.append(rel)
    one("a/run1/z_first.dcm", study_a, series_a1, 1, 1)
    one("a/run1/a_second.dcm", study_a, series_a1, 1, 2)
    one("a/other.dcm", study_a, series_a2, 2, 1)
    one("b/only.dcm", study_b, series_b1, 1, 1)
    with open(os.path.join(root, "b", "notes.txt"), "w") as fh:
        fh.write("not a DICOM file\n")
    expected = {
        "studies": sorted([
            {"study": study_a, "series": [{"series": series_a1, "instances": ["a/run1/z_first.dcm", "a/run1/a_second.dcm"]},
                                          {"series": series_a2, "instances": ["a/other.dcm"]}]},
            {"study": study_b, "series": [{"series": series_b1, "instances": ["b/only.dcm"]}]},
        ], key=lambda s: s["study"]),
        "rejected": ["b/notes.txt"],
    }
    with open(os.path.join(OUT, "catalog.json"), "w") as fh:
        json.dump(expected, fh, indent=1)


if __name__ == "__main__":
    main()
