#!/usr/bin/env python3
"""Writes the pixel data fixtures of Tests/Fixtures/dicom-pixels and the fuzz corpus of Tests/Fixtures/dicom-fuzz.

Every fixture is a small synthetic DICOM file (no patient data) plus pydicom 3's `pixel_array` of it as .npy
(little endian), listed in manifest.json with the properties the Swift tests check. Native files are written
by pydicom; RLE and JPEG-LS by dcmtk (dcmcrle, dcmcjpls); JPEG 2000 by pydicom's encoder (pylibjpeg-openjpeg).
Encapsulation variants (extended offset table, empty basic offset table with several fragments per frame,
basic offset table with several fragments per frame) re-wrap encoded frames with pydicom.encaps.

pydicom_pixel_samples.json records, for each pixel-bearing sample file shipped with pydicom whose transfer
syntax this reader handles and which pydicom decodes, the shape, dtype and a hash of pydicom's pixel_array
(see `array_hash`). The Swift test finds the sample files through the installed pydicom package.

Run by hand: python3 tools/make_dicom_pixel_fixtures.py (needs pydicom 3, numpy, pylibjpeg, pylibjpeg-openjpeg,
pyjpegls and dcmtk on PATH).
"""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pydicom
import pydicom.data
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, encapsulate_extended, generate_frames
from pydicom import uid as U

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "dicom-pixels")
FUZZ = os.path.join(ROOT, "Tests", "Fixtures", "dicom-fuzz")
RNG = np.random.default_rng(20261129)

SUPPORTED = {
    U.ImplicitVRLittleEndian, U.ExplicitVRLittleEndian, U.DeflatedExplicitVRLittleEndian, U.ExplicitVRBigEndian,
    U.RLELossless, U.JPEGLSLossless, U.JPEGLSNearLossless, U.JPEG2000Lossless, U.JPEG2000,
    "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203",
}
# Decoded by the JPEG codec merged separately; until then the reader reports them unsupported.
JPEG = {U.JPEGBaseline8Bit, U.JPEGExtended12Bit, U.JPEGLossless, U.JPEGLosslessSV1}

MASK64 = (1 << 64) - 1


def array_hash(arr):
    """A 64-bit hash of the little-endian bytes of `arr` (C order), cheap in NumPy and in Swift.

    The bytes, zero-padded to a multiple of 8, are read as little-endian 64-bit words w[i]; the hash is
    the wrapping sum over i of (w[i] ^ (w[i] >> 29)) * (2 * i + 1) * 0x9E3779B97F4A7C15, plus the byte count.
    """
    data = np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<"))).tobytes()
    pad = (-len(data)) % 8
    words = np.frombuffer(data + b"\0" * pad, dtype="<u8")
    idx = np.arange(len(words), dtype=np.uint64)
    with np.errstate(over="ignore"):
        k = (idx * np.uint64(2) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        mixed = (words ^ (words >> np.uint64(29))) * k
        total = int(mixed.sum(dtype=np.uint64)) if len(words) else 0
    return "%016x" % ((total + len(data)) & MASK64)


def base_dataset(rows, cols, spp=1, ba=8, bs=None, hb=None, pr=0, pi=None, frames=1, pc=None):
    bs = ba if bs is None else bs
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = U.SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = U.generate_uid(entropy_srcs=[f"{rows}{cols}{spp}{ba}{bs}{pr}{frames}{pi}{pc}"])
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientName = "Synthetic^Pixel"
    ds.PatientID = "PIXEL-0001"
    ds.Modality = "OT"
    ds.Rows = rows
    ds.Columns = cols
    ds.SamplesPerPixel = spp
    ds.BitsAllocated = ba
    ds.BitsStored = bs
    ds.HighBit = bs - 1 if hb is None else hb
    ds.PixelRepresentation = pr
    ds.PhotometricInterpretation = pi or ("MONOCHROME2" if spp == 1 else "RGB")
    if spp > 1:
        ds.PlanarConfiguration = 0 if pc is None else pc
    if frames > 1:
        ds.NumberOfFrames = frames
    return ds


def save(ds, name, ts, manifest, note, fuzz=False, pixel_vr=None):
    ds.file_meta.TransferSyntaxUID = ts
    if pixel_vr:
        ds["PixelData"].VR = pixel_vr
    path = os.path.join(OUT, name + ".dcm")
    little = ts != U.ExplicitVRBigEndian
    implicit = ts == U.ImplicitVRLittleEndian
    ds.save_as(path, implicit_vr=implicit, little_endian=little, enforce_file_format=True)
    record(path, name, manifest, note)
    if fuzz:
        shutil.copy(path, os.path.join(FUZZ, name + ".dcm"))


def record(path, name, manifest, note):
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    arr = arr.astype(arr.dtype.newbyteorder("<"))
    np.save(os.path.join(OUT, name + ".npy"), arr)
    manifest[name] = {
        "note": note,
        "transferSyntax": str(ds.file_meta.TransferSyntaxUID),
        "shape": list(arr.shape),
        "dtype": arr.dtype.str,
        "frames": int(ds.get("NumberOfFrames", 1) or 1),
        "photometric": str(ds.PhotometricInterpretation),
    }


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def dcmtk(tool, src_name, name, manifest, note, *options, fuzz=False):
    src = os.path.join(OUT, src_name + ".dcm")
    dst = os.path.join(OUT, name + ".dcm")
    run(tool, "+un", *options, src, dst)
    record(dst, name, manifest, note)
    if fuzz:
        shutil.copy(dst, os.path.join(FUZZ, name + ".dcm"))


def encoded_frames(ds, ts, **kwargs):
    """Encodes `ds`'s native frames with pydicom's encoder and returns the frame codestreams."""
    c = copy.deepcopy(ds)
    c.compress(ts, generate_instance_uid=False, **kwargs)
    n = int(c.get("NumberOfFrames", 1) or 1)
    return [bytes(f) for f in generate_frames(c.PixelData, number_of_frames=n)], c


def native(manifest):
    # 8-bit unsigned, odd size (15 bytes of pixel data, padded to 16 in the file).
    a = RNG.integers(0, 256, (3, 5), dtype=np.uint8)
    ds = base_dataset(3, 5)
    ds.PixelData = a.tobytes()
    save(ds, "native_u8_odd", U.ExplicitVRLittleEndian, manifest, "8-bit, odd length", fuzz=True)

    # 1-bit packed, 3 frames of 5×7: frames are not byte aligned.
    bits = RNG.integers(0, 2, (3, 5, 7), dtype=np.uint8)
    ds = base_dataset(5, 7, ba=1, frames=3)
    ds.PixelData = pydicom.pixels.pack_bits(bits)
    save(ds, "native_bits1_multiframe", U.ExplicitVRLittleEndian, manifest, "1-bit packed, 3 frames", fuzz=True)

    # 12 bits stored in 16, high bit 11, random garbage above bit 11.
    v = RNG.integers(0, 4096, (16, 12), dtype=np.uint16) | (RNG.integers(0, 16, (16, 12), dtype=np.uint16) << 12)
    ds = base_dataset(16, 12, ba=16, bs=12, hb=11)
    ds.PixelData = v.astype("<u2").tobytes()
    save(ds, "native_u12_in16", U.ExplicitVRLittleEndian, manifest, "12 of 16 bits, garbage above", fuzz=True)

    # Same bytes with High Bit 15 (pydicom ignores High Bit and keeps the low 12 bits).
    ds = base_dataset(16, 12, ba=16, bs=12, hb=15)
    ds.PixelData = v.astype("<u2").tobytes()
    save(ds, "native_u12_in16_highbit15", U.ExplicitVRLittleEndian, manifest, "12 of 16 bits, High Bit 15")

    # Signed 12 in 16 with garbage above: sign extension from bit 11.
    ds = base_dataset(16, 12, ba=16, bs=12, pr=1)
    ds.PixelData = v.astype("<u2").tobytes()
    save(ds, "native_s12_in16", U.ImplicitVRLittleEndian, manifest, "signed 12 of 16 bits, implicit VR", fuzz=True)

    # Signed 16-bit full range.
    s = RNG.integers(-32768, 32768, (20, 17), dtype=np.int16)
    ds = base_dataset(20, 17, ba=16, pr=1)
    ds.PixelData = s.astype("<i2").tobytes()
    save(ds, "native_s16", U.ExplicitVRLittleEndian, manifest, "signed 16-bit")

    # 32-bit unsigned and signed 24 of 32.
    w = RNG.integers(0, 2**32, (6, 7), dtype=np.uint32)
    ds = base_dataset(6, 7, ba=32)
    ds.PixelData = w.astype("<u4").tobytes()
    save(ds, "native_u32", U.ExplicitVRLittleEndian, manifest, "unsigned 32-bit", fuzz=True)
    ds = base_dataset(6, 7, ba=32, bs=24, pr=1)
    ds.PixelData = w.astype("<u4").tobytes()
    save(ds, "native_s24_in32", U.ExplicitVRLittleEndian, manifest, "signed 24 of 32 bits")

    # Signed 8-bit, 6 bits stored, multi-frame, implicit VR.
    b = RNG.integers(0, 256, (2, 9, 8), dtype=np.uint8)
    ds = base_dataset(9, 8, ba=8, bs=6, pr=1, frames=2)
    ds.PixelData = b.tobytes()
    save(ds, "native_s6_in8_multiframe", U.ImplicitVRLittleEndian, manifest, "signed 6 of 8 bits, 2 frames")

    # RGB 8-bit, planar configuration 0 and 1.
    rgb = RNG.integers(0, 256, (10, 13, 3), dtype=np.uint8)
    ds = base_dataset(10, 13, spp=3, pc=0)
    ds.PixelData = rgb.tobytes()
    save(ds, "native_rgb_planar0", U.ExplicitVRLittleEndian, manifest, "RGB interleaved", fuzz=True)
    ds = base_dataset(10, 13, spp=3, pc=1)
    ds.PixelData = rgb.transpose(2, 0, 1).tobytes()
    save(ds, "native_rgb_planar1", U.ExplicitVRLittleEndian, manifest, "RGB planar", fuzz=True)

    # RGB 16-bit planar, 2 frames.
    rgb16 = RNG.integers(0, 65536, (2, 6, 5, 3), dtype=np.uint16)
    ds = base_dataset(6, 5, spp=3, ba=16, pc=1, frames=2)
    ds.PixelData = rgb16.transpose(0, 3, 1, 2).astype("<u2").tobytes()
    save(ds, "native_rgb16_planar1_multiframe", U.ExplicitVRLittleEndian, manifest, "16-bit RGB planar, 2 frames")

    # YBR_FULL 8-bit: pydicom converts to RGB; every Y with a spread of Cb/Cr.
    ybr = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    ybr[..., 0] = np.arange(64 * 64).reshape(64, 64) % 256
    ds = base_dataset(64, 64, spp=3, pi="YBR_FULL", pc=0)
    ds.PixelData = ybr.tobytes()
    save(ds, "native_ybr_full", U.ExplicitVRLittleEndian, manifest, "YBR_FULL converted to RGB", fuzz=True)

    # Explicit VR big endian: 16-bit (OW) and 8-bit in OW (byte-swapped within words).
    m = RNG.integers(0, 65536, (2, 7, 9), dtype=np.uint16)
    ds = base_dataset(7, 9, ba=16, frames=2)
    ds.PixelData = m.astype(">u2").tobytes()
    save(ds, "native_be_u16_multiframe", U.ExplicitVRBigEndian, manifest, "big endian 16-bit, 2 frames", fuzz=True,
         pixel_vr="OW")
    e = RNG.integers(0, 256, (6, 8), dtype=np.uint8)
    ds = base_dataset(6, 8)
    ds.PixelData = e.reshape(-1, 2)[:, ::-1].tobytes()  # OW words written big endian
    save(ds, "native_be_u8_ow", U.ExplicitVRBigEndian, manifest, "big endian 8-bit in OW", fuzz=True, pixel_vr="OW")

    # Multi-frame 16-bit with trailing padding beyond the frames (allowed).
    f = RNG.integers(0, 4096, (4, 24, 20), dtype=np.uint16)
    ds = base_dataset(24, 20, ba=16, bs=12, frames=4)
    ds.PixelData = f.astype("<u2").tobytes() + b"\0" * 6
    save(ds, "native_u16_multiframe_padded", U.ExplicitVRLittleEndian, manifest, "4 frames + 6 trailing bytes")

    # Native YBR_FULL_422 (two luma samples share one Cb/Cr pair); pydicom expands and converts to RGB.
    y422 = RNG.integers(0, 256, (8, 10 * 2), dtype=np.uint8)
    ds = base_dataset(8, 10, spp=3, pi="YBR_FULL_422", pc=0)
    ds.PixelData = y422.tobytes()
    save(ds, "native_ybr_full_422", U.ExplicitVRLittleEndian, manifest, "YBR_FULL_422 native, to RGB")

    # The sources the codecs below compress (smooth enough to compress, with noise).
    yy, xx = np.mgrid[0:40, 0:36]
    mono16 = ((yy * 97 + xx * 31) % 4096 + RNG.integers(0, 16, (40, 36))).astype(np.uint16)
    ds = base_dataset(40, 36, ba=16, bs=12)
    ds.PixelData = mono16.astype("<u2").tobytes()
    save(ds, "src_u12", U.ExplicitVRLittleEndian, manifest, "codec source: 12-bit mono")
    mf = np.stack([np.roll(mono16, 3 * i, axis=1) for i in range(3)])
    ds = base_dataset(40, 36, ba=16, bs=16, frames=3)
    ds.PixelData = mf.astype("<u2").tobytes()
    save(ds, "src_u16_3frames", U.ExplicitVRLittleEndian, manifest, "codec source: 16-bit, 3 frames")
    sgn = (mono16.astype(np.int32) - 2048).astype(np.int16)
    ds = base_dataset(40, 36, ba=16, bs=16, pr=1)
    ds.PixelData = sgn.astype("<i2").tobytes()
    save(ds, "src_s16", U.ExplicitVRLittleEndian, manifest, "codec source: signed 16-bit")
    rgb8 = np.stack([(yy * 5) % 256, (xx * 9) % 256, ((yy + xx) * 3) % 256], axis=-1).astype(np.uint8)
    rgb8 = (rgb8 + RNG.integers(0, 4, rgb8.shape)).astype(np.uint8)
    ds = base_dataset(40, 36, spp=3)
    ds.PixelData = rgb8.tobytes()
    save(ds, "src_rgb8", U.ExplicitVRLittleEndian, manifest, "codec source: 8-bit RGB")
    ds = base_dataset(40, 36, spp=3, frames=2)
    ds.PixelData = np.stack([rgb8, rgb8[::-1]]).tobytes()
    save(ds, "src_rgb8_2frames", U.ExplicitVRLittleEndian, manifest, "codec source: 8-bit RGB, 2 frames")
    ds = base_dataset(40, 36, spp=3, pi="YBR_FULL")
    ds.PixelData = rgb8.tobytes()
    save(ds, "src_ybr8", U.ExplicitVRLittleEndian, manifest, "codec source: 8-bit YBR_FULL")
    u32 = (mono16.astype(np.uint32) * 65599 + 7).astype(np.uint32)
    ds = base_dataset(40, 36, ba=32)
    ds.PixelData = u32.astype("<u4").tobytes()
    save(ds, "src_u32", U.ExplicitVRLittleEndian, manifest, "codec source: 32-bit mono")


def encapsulated(manifest):
    # RLE by dcmtk.
    dcmtk("dcmcrle", "src_u12", "rle_u12", manifest, "RLE 16-bit mono (dcmcrle)", fuzz=True)
    dcmtk("dcmcrle", "src_u16_3frames", "rle_u16_3frames", manifest, "RLE 3 frames (dcmcrle)", fuzz=True)
    dcmtk("dcmcrle", "src_s16", "rle_s16", manifest, "RLE signed 16-bit (dcmcrle)")
    dcmtk("dcmcrle", "src_rgb8", "rle_rgb8", manifest, "RLE 8-bit RGB (dcmcrle)", fuzz=True)
    dcmtk("dcmcrle", "src_rgb8_2frames", "rle_rgb8_2frames_nobot", manifest, "RLE RGB 2 frames, empty BOT", "-ot")
    dcmtk("dcmcrle", "src_ybr8", "rle_ybr8", manifest, "RLE 8-bit YBR_FULL (to RGB)", fuzz=True)
    dcmtk("dcmcrle", "src_u32", "rle_u32", manifest, "RLE 32-bit (dcmcrle)")
    dcmtk("dcmcrle", "native_s6_in8_multiframe", "rle_s6_in8", manifest, "RLE signed 6 of 8 bits, 2 frames")

    # JPEG-LS by dcmtk.
    dcmtk("dcmcjpls", "src_u12", "jls_u12", manifest, "JPEG-LS lossless 12-bit (dcmcjpls)", fuzz=True)
    dcmtk("dcmcjpls", "src_u16_3frames", "jls_u16_3frames", manifest, "JPEG-LS lossless 3 frames")
    dcmtk("dcmcjpls", "src_rgb8", "jls_rgb8_line", manifest, "JPEG-LS lossless RGB, line interleaved", "+il",
          fuzz=True)
    dcmtk("dcmcjpls", "src_rgb8", "jls_rgb8_none", manifest, "JPEG-LS lossless RGB, not interleaved", "+in")
    dcmtk("dcmcjpls", "src_rgb8", "jls_rgb8_sample", manifest, "JPEG-LS lossless RGB, sample interleaved", "+is")
    dcmtk("dcmcjpls", "src_u12", "jls_near_u12", manifest, "JPEG-LS near-lossless NEAR 3", "+en", "+md", "3",
          fuzz=True)
    dcmtk("dcmcjpls", "src_s16", "jls_s16", manifest, "JPEG-LS lossless signed 16-bit")

    # JPEG-LS signed 12-bit by pydicom's encoder (pyjpegls): the stream holds 12-bit two's complement.
    src = pydicom.dcmread(os.path.join(OUT, "src_u12.dcm"))
    arr = (src.pixel_array.astype(np.int16) - 2048).astype(np.int16)
    ds = base_dataset(40, 36, ba=16, bs=12, pr=1)
    ds.PixelData = arr.astype("<i2").tobytes()
    ds.file_meta.TransferSyntaxUID = U.ExplicitVRLittleEndian
    ds.compress(U.JPEGLSLossless, encoding_plugin="pyjpegls", generate_instance_uid=False)
    save(ds, "jls_s12_pydicom", U.JPEGLSLossless, manifest, "JPEG-LS signed 12 of 16 bits (pyjpegls)")

    # JPEG 2000 by pydicom's encoder.
    for src_name, name, ts, kw, note, fz in [
        ("src_u12", "j2k_u12", U.JPEG2000Lossless, {}, "J2K lossless 12-bit", True),
        ("src_s16", "j2k_s16", U.JPEG2000Lossless, {}, "J2K lossless signed 16-bit", False),
        ("src_rgb8", "j2k_rgb8", U.JPEG2000Lossless, {}, "J2K lossless RGB (YBR_RCT)", True),
        ("src_u12", "j2k_lossy_u12", U.JPEG2000, {"j2k_cr": [20]}, "J2K lossy 12-bit", True),
        ("src_u16_3frames", "j2k_u16_3frames", U.JPEG2000Lossless, {}, "J2K lossless 3 frames", False),
    ]:
        ds = pydicom.dcmread(os.path.join(OUT, src_name + ".dcm"))
        ds.compress(ts, encoding_plugin="pylibjpeg", generate_instance_uid=False, **kw)
        save(ds, name, ts, manifest, note, fuzz=fz)

    # J2K codestream unsigned while Pixel Representation says signed (pydicom reinterprets from the
    # codestream precision): encode 12-bit unsigned values, then relabel the dataset signed.
    ds = pydicom.dcmread(os.path.join(OUT, "src_u12.dcm"))
    ds.compress(U.JPEG2000Lossless, encoding_plugin="pylibjpeg", generate_instance_uid=False)
    ds.PixelRepresentation = 1
    save(ds, "j2k_pixelrep_mismatch", U.JPEG2000Lossless, manifest, "J2K unsigned stream, PR 1")

    # The HTJ2K transfer syntax with a Part 1 codestream (a conforming HTJ2K decoder reads both): checks the
    # dispatch only, as no High-Throughput encoder is available here.
    ds = pydicom.dcmread(os.path.join(OUT, "j2k_u12.dcm"))
    save(ds, "htj2k_uid_part1_stream", "1.2.840.10008.1.2.4.201", manifest,
         "HTJ2K lossless UID over a Part 1 codestream (dispatch only)")

    # Encapsulation variants around J2K, JPEG-LS and RLE frames.
    src = pydicom.dcmread(os.path.join(OUT, "src_u16_3frames.dcm"))
    frames, enc = encoded_frames(src, U.JPEG2000Lossless, encoding_plugin="pylibjpeg")
    ds = copy.deepcopy(enc)
    data, offsets, lengths = encapsulate_extended(frames)
    ds.PixelData = data
    ds.ExtendedOffsetTable = offsets
    ds.ExtendedOffsetTableLengths = lengths
    ds["PixelData"].is_undefined_length = True
    save(ds, "encaps_extended_offsets", U.JPEG2000Lossless, manifest, "J2K, Extended Offset Table", fuzz=True)

    ds = copy.deepcopy(enc)
    ds.PixelData = encapsulate(frames, fragments_per_frame=3, has_bot=False)
    ds["PixelData"].is_undefined_length = True
    save(ds, "encaps_nobot_fragments", U.JPEG2000Lossless, manifest,
         "J2K, empty BOT, 3 fragments per frame (split at EOC markers)", fuzz=True)

    ds = copy.deepcopy(enc)
    ds.PixelData = encapsulate(frames, fragments_per_frame=2, has_bot=True)
    ds["PixelData"].is_undefined_length = True
    save(ds, "encaps_bot_fragments", U.JPEG2000Lossless, manifest, "J2K, BOT, 2 fragments per frame")

    jls = pydicom.dcmread(os.path.join(OUT, "jls_u16_3frames.dcm"))
    jframes = [bytes(f) for f in generate_frames(jls.PixelData, number_of_frames=3)]
    ds = copy.deepcopy(jls)
    ds.PixelData = encapsulate(jframes, fragments_per_frame=2, has_bot=False)
    ds["PixelData"].is_undefined_length = True
    save(ds, "encaps_jls_nobot_fragments", U.JPEGLSLossless, manifest, "JPEG-LS, empty BOT, 2 fragments per frame")

    rle = pydicom.dcmread(os.path.join(OUT, "rle_u16_3frames.dcm"))
    rframes = [bytes(f) for f in generate_frames(rle.PixelData, number_of_frames=3)]
    ds = copy.deepcopy(rle)
    ds.PixelData = encapsulate(rframes, fragments_per_frame=2, has_bot=True)
    ds["PixelData"].is_undefined_length = True
    save(ds, "encaps_rle_bot_fragments", U.RLELossless, manifest, "RLE, BOT, 2 fragments per frame")

    # An unsupported transfer syntax (MPEG2) with arbitrary encapsulated bytes.
    ds = base_dataset(16, 16)
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + b"\x00" * 60])
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = U.MPEG2MPML
    path = os.path.join(OUT, "unsupported_mpeg2.dcm")
    ds.save_as(path, enforce_file_format=True)
    manifest["unsupported_mpeg2"] = {"note": "MPEG2: unsupported", "transferSyntax": str(U.MPEG2MPML),
                                     "unsupported": True}


LOSSY_JPEG = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"}


def lossy_jpeg_reference(ds, path):
    """(name, array) of the libjpeg-family decode of a lossy JPEG sample: pydicom with its Pillow plugin
    (libjpeg-turbo) for 8-bit samples, dcmtk's dcmdjpeg (IJG, 12-bit build) otherwise."""
    import subprocess, tempfile
    if int(ds.BitsAllocated) == 8:
        try:
            ds = pydicom.dcmread(path)
            ds.pixel_array_options(decoding_plugin="pillow")
            return "pydicom+pillow", ds.pixel_array
        except Exception:
            return None
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "d.dcm")
        if subprocess.run(["dcmdjpeg", path, out], capture_output=True).returncode != 0:
            return None
        return "dcmdjpeg", pydicom.dcmread(out).pixel_array


def pydicom_samples():
    root = os.path.join(os.path.dirname(pydicom.data.__file__), "test_files")
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            try:
                ds = pydicom.dcmread(path)
            except Exception:
                continue
            if "PixelData" not in ds or not hasattr(ds, "file_meta"):
                continue
            ts = str(ds.file_meta.get("TransferSyntaxUID", ""))
            if ts not in SUPPORTED and ts not in JPEG:
                continue
            try:
                arr = ds.pixel_array
            except Exception:
                continue  # pydicom itself cannot decode it
            files[rel] = {
                "transferSyntax": ts,
                "shape": list(arr.shape),
                "dtype": arr.dtype.newbyteorder("<").str if arr.dtype.itemsize > 1 else arr.dtype.str,
                "hash": array_hash(arr),
                "jpeg": ts in JPEG,
            }
            if ts in LOSSY_JPEG:
                # Lossy JPEG decoders legitimately differ by a level or a few; the reader follows libjpeg
                # (Pillow for 8-bit, IJG 12-bit as dcmdjpeg), so record those references too.
                ref = lossy_jpeg_reference(ds, path)
                if ref is not None:
                    files[rel]["hash_reference"], files[rel]["reference"] = array_hash(ref[1]), ref[0]
    return {"pydicom": pydicom.__version__, "hash": "see array_hash in tools/make_dicom_pixel_fixtures.py",
            "files": files}


def main():
    warnings.simplefilter("ignore")
    for d in (OUT, FUZZ):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    manifest = {}
    native(manifest)
    encapsulated(manifest)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"pydicom": pydicom.__version__, "numpy": np.__version__, "fixtures": manifest}, f, indent=1,
                  sort_keys=True)
    with open(os.path.join(OUT, "pydicom_pixel_samples.json"), "w") as f:
        json.dump(pydicom_samples(), f, indent=1, sort_keys=True)
    print(f"{len(manifest)} fixtures, {len(os.listdir(FUZZ))} fuzz corpus files")


if __name__ == "__main__":
    sys.exit(main())
