#!/usr/bin/env python3
"""Writes the DICOM reader fixtures into Tests/Fixtures/dicom with pydicom (the reference reader).

Each fixture NAME.dcm gets NAME.json: the values pydicom reads back from it, per top-level tag.
pydicom_samples.json lists pydicom's own test files with a few expected values.
Synthetic identities only. Run: pip install pydicom && python3 tools/make_dicom_fixtures.py
"""
import glob, io, json, os, struct, sys
import pydicom
import pydicom.data
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import (ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian,
                         DeflatedExplicitVRLittleEndian, JPEGBaseline8Bit, generate_uid)

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "dicom")
XA = "1.2.840.10008.5.1.4.1.1.12.1"
STRING_VRS = {"AE", "AS", "CS", "DA", "DT", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}


def expected_value(elem):
    """JSON description of one element as pydicom reads it."""
    vr, v = elem.VR, elem.value
    if vr == "SQ":
        return {"vr": vr, "items": [describe(item) for item in v]}
    if elem.tag == 0x7FE00010 and getattr(elem, "is_undefined_length", False):
        return {"vr": vr, "encapsulated": True}
    if v is None or v == "" or v == b"":
        return {"vr": vr, "empty": True}
    if vr in STRING_VRS:
        if isinstance(v, (list, pydicom.multival.MultiValue)):
            return {"vr": vr, "strings": [str(x) for x in v]}
        return {"vr": vr, "string": str(v)}
    if vr in ("IS", "US", "SS", "UL", "SL", "SV", "UV"):
        vals = list(v) if isinstance(v, (list, pydicom.multival.MultiValue)) else [v]
        if vr in ("US", "SS") and isinstance(v, bytes):
            return {"vr": vr, "length": len(v)}
        return {"vr": vr, "ints": [int(x) for x in vals]}
    if vr in ("DS", "FL", "FD"):
        vals = list(v) if isinstance(v, (list, pydicom.multival.MultiValue)) else [v]
        return {"vr": vr, "doubles": [float(x) for x in vals]}
    if isinstance(v, bytes):
        return {"vr": vr, "length": len(v)}
    return {"vr": vr}


def describe(ds):
    return {"%08X" % int(e.tag): expected_value(e) for e in ds}


def xa_dataset(name="Doe^Jane", charset=None):
    ds = Dataset()
    if charset:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID = XA
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.Modality = "XA"
    ds.PatientName = name
    ds.PatientID = "SYNTH-0001"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.2"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.3"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "SINGLE PLANE"]
    ds.FrameTime = "66.7"
    ds.NumberOfFrames = "2"
    ds.Rows = 4
    ds.Columns = 3
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.WindowCenter = ["2048", "1024.5"]
    ds.WindowWidth = "4096"
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1.5"
    mask = Dataset()
    mask.MaskOperation = "AVG_SUB"
    mask.ApplicableFrameRange = [1, 2]
    mask.MaskFrameNumbers = [1]
    mask.MaskSubPixelShift = [0.5, -0.25]
    ds.MaskSubtractionSequence = Sequence([mask])
    ds.add_new(0x00090010, "LO", "SYNTH PRIVATE")
    ds.add_new(0x00091001, "LO", "private text")
    ds.add_new(0x00091002, "UN", b"\x01\x02\x03\x04")
    ds.add_new(0x00181063 + 0, "DS", "66.7")
    ds.PixelData = struct.pack("<24H", *range(0, 2400, 100))
    return ds


def write_file(name, ds, ts, description):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = "1.2.826.0.1.3680043.8.498.99"
    ds.file_meta = meta
    if ts != ImplicitVRLittleEndian and "PixelData" in ds and ts not in (ExplicitVRBigEndian,):
        pass
    if ts == ExplicitVRBigEndian and "PixelData" in ds and ds.BitsAllocated == 16:
        ds["PixelData"].VR = "OW"
    path = os.path.join(OUT, name + ".dcm")
    ds.save_as(path, enforce_file_format=True)
    record(name, description)


def record(name, description, meta=True):
    path = os.path.join(OUT, name + ".dcm")
    read = pydicom.dcmread(path, force=True)
    exp = {
        "description": description,
        "transferSyntax": str(read.file_meta.TransferSyntaxUID) if meta and "TransferSyntaxUID" in read.file_meta else None,
        "topLevelCount": len(read),
        "elements": describe(read),
    }
    if "PixelData" in read and read["PixelData"].is_undefined_length:
        from pydicom.encaps import parse_basic_offsets, parse_fragments, generate_fragments
        with open(path, "rb") as f:
            pass
        frags = list(generate_fragments(read.PixelData))
        exp["fragments"] = [len(f) for f in frags[1:]]
        exp["basicOffsetTable"] = list(struct.unpack("<%dI" % (len(frags[0]) // 4), frags[0]))
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(exp, f, indent=1, sort_keys=True)


def raw_element(group, elem, value, vr=None):
    """An element in implicit VR LE (vr None) or explicit VR LE, written by hand to keep odd lengths."""
    head = struct.pack("<HH", group, elem)
    if vr is None:
        return head + struct.pack("<I", len(value)) + value
    if vr in ("OB", "OW", "UN", "SQ", "UT", "UC", "UR", "OF", "OD", "OL", "OV"):
        return head + vr.encode() + b"\0\0" + struct.pack("<I", len(value)) + value
    return head + vr.encode() + struct.pack("<H", len(value)) + value


def main():
    os.makedirs(OUT, exist_ok=True)
    write_file("implicit_le", xa_dataset(), ImplicitVRLittleEndian, "XA, implicit VR little endian")
    write_file("explicit_le", xa_dataset(), ExplicitVRLittleEndian, "XA, explicit VR little endian")
    write_file("explicit_be", xa_dataset(), ExplicitVRBigEndian, "XA, explicit VR big endian")
    write_file("deflated", xa_dataset(), DeflatedExplicitVRLittleEndian, "XA, deflated explicit VR little endian")
    write_file("utf8_name", xa_dataset("Müller^Zoë^^Dr.", "ISO_IR 192"), ExplicitVRLittleEndian, "UTF-8 person name")
    write_file("latin1_name", xa_dataset("Gómez^Añá", "ISO_IR 100"), ExplicitVRLittleEndian, "Latin-1 person name")

    enc = xa_dataset()
    frames = [bytes([0xFF, 0xD8]) + bytes(range(7)) + bytes([0xFF, 0xD9]), bytes([0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9])]
    enc.PixelData = encapsulate(frames, has_bot=True)
    enc["PixelData"].VR = "OB"
    enc["PixelData"].is_undefined_length = True
    enc.BitsAllocated = 8; enc.BitsStored = 8; enc.HighBit = 7
    write_file("encapsulated_jpeg", enc, JPEGBaseline8Bit, "JPEG baseline, fragments not decoded")

    # Undefined-length and nested sequences, explicit and implicit.
    for ts, name in ((ExplicitVRLittleEndian, "nested_undefined_explicit"), (ImplicitVRLittleEndian, "nested_undefined_implicit")):
        ds = xa_dataset()
        inner = Dataset(); inner.CodeValue = "C1"; inner.CodeMeaning = "inner code"
        middle = Dataset(); middle.ReferencedSOPInstanceUID = "1.2.3.4"; middle.PurposeOfReferenceCodeSequence = Sequence([inner])
        outer = Dataset(); outer.ReferencedSOPClassUID = XA; outer.ReferencedImageSequence = Sequence([middle, middle])
        ds.SourceImageSequence = Sequence([outer, Dataset()])
        ds["SourceImageSequence"].is_undefined_length = True
        ds.ReferencedImageSequence = Sequence([outer])
        ds["ReferencedImageSequence"].is_undefined_length = False
        for item in ds.SourceImageSequence:
            item.is_undefined_length_sequence_item = True
        write_file(name, ds, ts, "nested sequences, undefined and defined lengths")

    # Raw datasets without preamble; odd-length values written by hand.
    body = b"".join([
        raw_element(0x0008, 0x0016, b"1.2.840.10008.5.1.4.1.1.7\0"),
        raw_element(0x0008, 0x0060, b"OT"),
        raw_element(0x0010, 0x0010, b"Odd^Len"),  # odd length, tolerated
        raw_element(0x0010, 0x0020, b"RAW1 "),
        raw_element(0x0011, 0x0010, b"ODD CREATOR "),
        raw_element(0x0011, 0x1001, b"\x01\x02\x03"),
        raw_element(0x0028, 0x0010, struct.pack("<H", 2)),
        raw_element(0x0028, 0x0011, struct.pack("<H", 2)),
    ])
    with open(os.path.join(OUT, "raw_implicit.dcm"), "wb") as f:
        f.write(body)
    record("raw_implicit", "raw implicit VR LE dataset, no preamble, odd lengths", meta=False)
    body = b"".join([
        raw_element(0x0008, 0x0016, b"1.2.840.10008.5.1.4.1.1.7\0", "UI"),
        raw_element(0x0008, 0x0060, b"OT", "CS"),
        raw_element(0x0010, 0x0010, b"Raw^Explicit", "PN"),
        raw_element(0x0018, 0x1063, b"33.3", "DS"),
        raw_element(0x0028, 0x0010, struct.pack("<H", 5), "US"),
        raw_element(0x0028, 0x1052, b"-7 ", "DS"),
        raw_element(0x0029, 0x1010, b"\x09\x08\x07", "OB"),
    ])
    with open(os.path.join(OUT, "raw_explicit.dcm"), "wb") as f:
        f.write(body)
    record("raw_explicit", "raw explicit VR LE dataset, no preamble", meta=False)

    # pydicom's own samples: a few values each.
    root = os.path.join(os.path.dirname(pydicom.data.__file__), "test_files")
    samples = {}
    for path in sorted(glob.glob(os.path.join(root, "**", "*.dcm"), recursive=True)):
        rel = os.path.relpath(path, root)
        try:
            ds = pydicom.dcmread(path)
            ds.PixelData if "PixelData" in ds else None
        except Exception as e:  # noqa: BLE001 - recorded as expected failures
            samples[rel] = {"pydicomFails": type(e).__name__}
            continue
        meta = getattr(ds, "file_meta", None)
        samples[rel] = {
            "transferSyntax": str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else None,
            "sopClassUID": str(ds.SOPClassUID) if "SOPClassUID" in ds else None,
            "rows": int(ds.Rows) if "Rows" in ds and ds.Rows is not None and ds["Rows"].VR == "US" else None,
            "columns": int(ds.Columns) if "Columns" in ds and ds.Columns is not None and ds["Columns"].VR == "US" else None,
            "topLevelCount": len(ds),
        }
    with open(os.path.join(OUT, "pydicom_samples.json"), "w") as f:
        json.dump({"pydicomVersion": pydicom.__version__, "files": samples}, f, indent=1, sort_keys=True)
    print("wrote fixtures to", os.path.abspath(OUT), "and", len(samples), "pydicom samples")


if __name__ == "__main__":
    main()
