#!/usr/bin/env python3
"""Checks a `dsa-triage synth` output directory with pydicom and numpy, independently of the Swift reader.

Usage: tools/check_synth_with_pydicom.py OUT_DIR

For every case in labels.csv it reads each DICOM file with pydicom (JPEG Lossless through pylibjpeg), checks the
XA attributes the shared conventions require, recomputes the log subtraction from the native frames and compares
it with the subtracted run, and recomputes the PNG (minimum-intensity projection) from the subtracted frames.
Exits 1 on the first kind of mismatch, after listing all of them.
"""
import csv
import os
import sys

import numpy as np
import pydicom
from PIL import Image

XA = "1.2.840.10008.5.1.4.1.1.12.1"


def check_common(ds, where, problems):
    def expect(cond, what):
        if not cond:
            problems.append(f"{where}: {what}")

    expect(ds.SOPClassUID == XA, f"SOP class {ds.SOPClassUID}")
    expect(ds.Modality == "XA", "Modality")
    expect(ds.PhotometricInterpretation == "MONOCHROME2", "Photometric Interpretation")
    expect(ds.BitsAllocated == 16 and ds.BitsStored == 12 and ds.HighBit == 11, "bit depths")
    expect(ds.PixelRepresentation == 0, "Pixel Representation")
    expect(str(ds.PatientName).startswith("SYNTHETIC^"), f"Patient Name {ds.PatientName}")
    expect(str(ds.PatientID).startswith("SYN-"), f"Patient ID {ds.PatientID}")
    expect(ds.FrameIncrementPointer == 0x00181063, "Frame Increment Pointer")
    expect(float(ds.FrameTime) > 0, "Frame Time")
    expect(ds.LossyImageCompression == "00", "Lossy Image Compression")
    expect(ds.file_meta.ImplementationVersionName == "DSA_TRIAGE_1", "Implementation Version Name")
    expect(ds.file_meta.FileMetaInformationGroupLength > 0, "group length")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out = sys.argv[1]
    problems = []
    with open(os.path.join(out, "labels.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    syntaxes = {}
    for row in rows:
        cid = row["case_id"]
        native = sub = None
        if row["native_dicom"]:
            ds = pydicom.dcmread(os.path.join(out, row["native_dicom"]))
            where = row["native_dicom"]
            check_common(ds, where, problems)
            if str(ds.file_meta.TransferSyntaxUID) != row["transfer_syntax_uid"]:
                problems.append(f"{where}: transfer syntax {ds.file_meta.TransferSyntaxUID}")
            syntaxes[row["transfer_syntax"]] = syntaxes.get(row["transfer_syntax"], 0) + 1
            if list(ds.ImageType) != ["ORIGINAL", "PRIMARY", "SINGLE PLANE"]:
                problems.append(f"{where}: Image Type {list(ds.ImageType)}")
            if ds.PixelIntensityRelationship != "LIN":
                problems.append(f"{where}: Pixel Intensity Relationship")
            item = ds.MaskSubtractionSequence[0]
            if item.MaskOperation != "AVG_SUB" or int(item.MaskFrameNumbers) != 1:
                problems.append(f"{where}: Mask Subtraction Sequence")
            if ds.RecommendedViewingMode != "SUB":
                problems.append(f"{where}: Recommended Viewing Mode")
            native = ds.pixel_array.astype(np.int64)
        if row["subtracted_dicom"]:
            ds = pydicom.dcmread(os.path.join(out, row["subtracted_dicom"]))
            where = row["subtracted_dicom"]
            check_common(ds, where, problems)
            if "SUBTRACTION" not in list(ds.ImageType)[2:]:
                problems.append(f"{where}: Image Type {list(ds.ImageType)}")
            if "MaskSubtractionSequence" in ds:
                problems.append(f"{where}: subtracted run has a Mask Subtraction Sequence")
            sub = ds.pixel_array.astype(np.int64)
        if native is not None and sub is not None:
            logs = np.log(np.maximum(native, 1).astype(np.float64))
            expected = np.clip(np.round(2048 + 3000 * (logs - logs[0])), 0, 4095)
            diff = np.abs(expected - sub).max()
            if diff > 1:
                problems.append(f"{cid}: subtracted run differs from log subtraction of the native run by {diff}")
        if sub is not None:
            png = np.asarray(Image.open(os.path.join(out, row["png"])))
            mip = (sub[1:] - 2048).min(axis=0) / 3000.0
            expected = np.clip(235 + 500 * mip, 0, 255)
            diff = np.abs(expected - png).max()
            if diff > 1:
                problems.append(f"{cid}: PNG differs from the minimum-intensity projection by {diff:.2f}")
        blocked = row["label"] == "blocked"
        if blocked != bool(row["occluded_vessel"]):
            problems.append(f"{cid}: label {row['label']} but occlusion columns '{row['occluded_vessel']}'")
    n_blocked = sum(r["label"] == "blocked" for r in rows)
    print(f"{len(rows)} cases, {n_blocked} blocked; transfer syntaxes {syntaxes}")
    for p in problems:
        print("PROBLEM:", p)
    print("OK" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
