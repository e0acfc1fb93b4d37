#!/usr/bin/env python3
"""Writes the JPEG pixel-data fixtures into Tests/Fixtures/dicom-jpeg.

Sources are synthetic images written uncompressed with pydicom; dcmtk's dcmcjpeg compresses them
(baseline, extended 12-bit, lossless with every selection value, point transform). A few streams that
dcmcjpeg cannot make (restart intervals, non-interleaved lossless scans, the 16-bit difference case) are
made by the small lossless encoder below or by Pillow (baseline with restart markers) and wrapped with
pydicom's encapsulate.

For every NAME.dcm the manifest (manifest.json) names:
  source   the uncompressed source array (SRC.npy), to which lossless fixtures must decode exactly
  pydicom  NAME.pydicom.npy: pydicom's pixel_array with its default plugins (here pylibjpeg-libjpeg)
  pillow   NAME.pillow.npy (8-bit DCT only): pydicom's pixel_array through the Pillow plugin
           (libjpeg-turbo), with pydicom's default as_rgb=True
  dcmdjpeg NAME.dcmdjpeg.npy (DCT and point transform): dcmtk's dcmdjpeg output (IJG), colour left as
           stored (+cn) and then read by pydicom (which converts YBR_FULL to RGB as for the others).
           pylibjpeg-libjpeg 2.5 returns a wrong image for a lossless point transform > 0, so dcmdjpeg is the
           reference there.
Run: python3 tools/make_jpeg_fixtures.py   (needs pydicom 3, numpy, Pillow, pylibjpeg-libjpeg, dcmtk)
"""
import io, json, os, shutil, subprocess, sys, tempfile
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (ExplicitVRLittleEndian, JPEGBaseline8Bit, JPEGLossless, JPEGLosslessSV1)
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "dicom-jpeg")
SC = "1.2.840.10008.5.1.4.1.1.7"


def sources():
    rng = np.random.default_rng(20261129)
    y, x = np.mgrid[0:48, 0:64]
    smooth = (np.sin(x / 9.0) * np.cos(y / 7.0) + 1) / 2
    out = {}
    out["gray8"] = np.clip(smooth * 220 + rng.integers(0, 30, (48, 64)), 0, 255).astype(np.uint8)
    out["gray12"] = np.clip(smooth * 3800 + rng.integers(0, 290, (48, 64)), 0, 4095).astype(np.uint16)
    g16 = np.clip(smooth * 60000 + rng.integers(0, 5000, (48, 64)), 0, 65535).astype(np.uint16)
    g16[0:4, 0:8] = np.array([0, 32768] * 4, dtype=np.uint16)  # differences of exactly 32768 (SSSS = 16)
    g16[5, :] = np.where(np.arange(64) % 2 == 0, 65535, 32767)
    out["gray16"] = g16
    out["signed16"] = (smooth * 20000 - 10000 + rng.integers(-700, 700, (48, 64))).astype(np.int16)
    r = np.clip(smooth * 255, 0, 255)
    g = np.clip((1 - smooth) * 200 + rng.integers(0, 40, (48, 64)), 0, 255)
    b = np.clip(x * 4.0 + rng.integers(0, 20, (48, 64)), 0, 255)
    out["rgb8"] = np.stack([r, g, b], axis=-1).astype(np.uint8)
    out["gray2"] = out["gray8"] >> 6
    out["frames12"] = np.stack([np.roll(out["gray12"], 5 * k, axis=1) for k in range(3)]).astype(np.uint16)
    return out


def dataset(arr, bits_stored, signed=False, rgb=False, frames=1, uid_seed="x"):
    ds = Dataset()
    ds.SOPClassUID = SC
    ds.SOPInstanceUID = pydicom.uid.generate_uid(prefix="1.2.826.0.1.3680043.8.498.", entropy_srcs=[uid_seed])
    ds.Modality = "OT"
    ds.PatientName = "Synthetic^Jpeg"
    ds.PatientID = "SYNTH-JPEG"
    ds.Rows, ds.Columns = arr.shape[-3:-1] if rgb else arr.shape[-2:]
    ds.SamplesPerPixel = 3 if rgb else 1
    ds.PhotometricInterpretation = "RGB" if rgb else "MONOCHROME2"
    if rgb:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8 if arr.dtype.itemsize == 1 else 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = arr.tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SC
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


# ---------- a small lossless (process 14) encoder for the streams dcmcjpeg cannot make ----------
# One fixed DC table for categories 0..16: 6 codes of 3 bits, two each of 4..8 bits, one of 9 bits.
BITS = [0, 0, 6, 2, 2, 2, 2, 2, 1, 0, 0, 0, 0, 0, 0, 0]  # counts of lengths 1..16
VALS = list(range(17))


def codes():
    table, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(BITS[length - 1]):
            table[VALS[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return table


class BitWriter:
    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, value, length):
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)
                self.acc, self.n = 0, 0

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)


def predict(p, ra, rb, rc):
    return [0, ra, rb, rc, ra + rb - rc, ra + ((rb - rc) >> 1), rb + ((ra - rc) >> 1), (ra + rb) >> 1][p]


def encode_lossless(img, precision, predictor=1, pt=0, restart_rows=0, interleaved=True):
    """img: (rows, cols) or (rows, cols, comps) unsigned values. Returns a JPEG stream (SOF3)."""
    if img.ndim == 2:
        img = img[:, :, None]
    rows, cols, nc = img.shape
    data = img.astype(np.int64) >> pt
    table = codes()
    s = bytearray(b"\xff\xd8")
    s += b"\xff\xfe" + (2 + 9).to_bytes(2, "big") + b"synthetic"  # a COM segment to skip
    s += b"\xff\xc3" + (8 + 3 * nc).to_bytes(2, "big") + bytes([precision]) + rows.to_bytes(2, "big")
    s += cols.to_bytes(2, "big") + bytes([nc])
    for c in range(nc):
        s += bytes([c + 1, 0x11, 0])
    s += b"\xff\xc4" + (2 + 1 + 16 + 17).to_bytes(2, "big") + bytes([0x00]) + bytes(BITS) + bytes(VALS)
    if restart_rows:
        s += b"\xff\xdd" + (4).to_bytes(2, "big") + (restart_rows * cols).to_bytes(2, "big")
    mod = 1 << 16
    scans = [list(range(nc))] if interleaved else [[c] for c in range(nc)]
    for comps in scans:
        s += b"\xff\xda" + (6 + 2 * len(comps)).to_bytes(2, "big") + bytes([len(comps)])
        for c in comps:
            s += bytes([c + 1, 0x00])
        s += bytes([predictor, 0, pt])
        w, rst = BitWriter(), 0
        for yy in range(rows):
            first_line = yy == 0 or (restart_rows and yy % restart_rows == 0)
            if restart_rows and yy and yy % restart_rows == 0:
                w.flush()
                s += w.out + bytes([0xFF, 0xD0 + rst])
                rst = (rst + 1) % 8
                w = BitWriter()
            for xx in range(cols):
                for c in comps:
                    if first_line and xx == 0:
                        pred = 1 << (precision - pt - 1)
                    elif first_line:
                        pred = data[yy, xx - 1, c]
                    elif xx == 0:
                        pred = data[yy - 1, xx, c]
                    else:
                        pred = predict(predictor, data[yy, xx - 1, c], data[yy - 1, xx, c], data[yy - 1, xx - 1, c])
                    diff = int(data[yy, xx, c] - pred) % mod
                    if diff >= 32768:
                        diff -= mod
                    if diff == -32768:
                        diff = 32768
                    ssss = 0 if diff == 0 else int(abs(diff)).bit_length()
                    code, length = table[ssss]
                    w.put(code, length)
                    if 0 < ssss < 16:
                        w.put(diff if diff > 0 else diff + (1 << ssss) - 1, ssss)
        w.flush()
        s += w.out
    s += b"\xff\xd9"
    return bytes(s)


def run(*args):
    subprocess.run(list(args), check=True, capture_output=True)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    src = sources()
    for name, arr in src.items():
        np.save(os.path.join(OUT, f"src_{name}.npy"), arr)
    manifest = []
    tmp = tempfile.mkdtemp()

    def uncompressed(srcname, bits, **kw):
        arr = src[srcname]
        path = os.path.join(tmp, srcname + ".dcm")
        dataset(arr, bits, uid_seed=srcname, **kw).save_as(path, enforce_file_format=True)
        return path

    specs = {
        "gray8": dict(bits=8), "gray12": dict(bits=12), "gray16": dict(bits=16),
        "signed16": dict(bits=16, signed=True), "rgb8": dict(bits=8, rgb=True),
        "frames12": dict(bits=12, frames=3),
    }
    inputs = {k: uncompressed(k, v["bits"], **{a: b for a, b in v.items() if a != "bits"}) for k, v in specs.items()}

    def save_arrays(name, path, kind, srcname, dct):
        entry = {"name": name, "source": srcname, "kind": kind}
        ds = pydicom.dcmread(path)
        entry["transferSyntax"] = str(ds.file_meta.TransferSyntaxUID)
        entry["photometric"] = str(ds.PhotometricInterpretation)
        entry["frames"] = int(getattr(ds, "NumberOfFrames", 1))
        entry["bitsStored"] = int(ds.BitsStored)
        entry["signed"] = int(ds.PixelRepresentation) == 1
        arr = ds.pixel_array
        np.save(os.path.join(OUT, name + ".pydicom.npy"), arr)
        if kind == "lossless":
            want = src[srcname]
            assert np.array_equal(arr, want), f"{name}: pydicom does not return the source"
        if dct and int(ds.BitsStored) <= 8:
            ds2 = pydicom.dcmread(path)
            ds2.pixel_array_options(decoding_plugin="pillow")
            np.save(os.path.join(OUT, name + ".pillow.npy"), ds2.pixel_array)
            entry["pillow"] = True
        if dct or kind == "pointTransform":
            out = os.path.join(tmp, name + ".raw.dcm")
            run("dcmdjpeg", "+cn", path, out)
            d = pydicom.dcmread(out)
            np.save(os.path.join(OUT, name + ".dcmdjpeg.npy"), d.pixel_array)
            entry["dcmdjpeg"] = True
            entry["dcmdjpegPhotometric"] = str(d.PhotometricInterpretation)
        return entry

    def dcmcjpeg(name, srcname, kind, *opts):
        path = os.path.join(OUT, name + ".dcm")
        run("dcmcjpeg", "+un", *opts, inputs[srcname], path)
        manifest.append(save_arrays(name, path, kind, srcname, kind != "lossless"))

    # Lossless, every selection value, 12 bits in 16.
    for sv in range(1, 8):
        dcmcjpeg(f"lossless_sv{sv}_gray12", "gray12", "lossless", "+el", "+sv", str(sv))
    dcmcjpeg("lossless_sv1_gray8", "gray8", "lossless", "+e1")
    dcmcjpeg("lossless_sv1_gray16", "gray16", "lossless", "+e1")
    dcmcjpeg("lossless_sv7_gray16", "gray16", "lossless", "+el", "+sv", "7")
    dcmcjpeg("lossless_sv1_gray16_fragments", "gray16", "lossless", "+e1", "+fs", "1")  # 1 KiB fragments
    dcmcjpeg("lossless_sv1_signed16", "signed16", "lossless", "+e1")
    dcmcjpeg("lossless_sv1_rgb8", "rgb8", "lossless", "+e1")
    dcmcjpeg("lossless_sv1_frames12", "frames12", "lossless", "+e1")
    # Point transform: lossy in effect (low bits dropped); pydicom and the source shifted agree.
    name = "lossless_pt2_gray12"
    path = os.path.join(OUT, name + ".dcm")
    run("dcmcjpeg", "+un", "+el", "+sv", "1", "+pt", "2", inputs["gray12"], path)
    e = save_arrays(name, path, "pointTransform", "gray12", False)
    e["pointTransform"] = 2
    manifest.append(e)
    # DCT.
    dcmcjpeg("extended_gray12", "gray12", "dct", "+ee")
    dcmcjpeg("extended_frames12", "frames12", "dct", "+ee")
    dcmcjpeg("extended_gray8", "gray8", "dct", "+ee")
    dcmcjpeg("baseline_gray8", "gray8", "dct", "+eb")
    dcmcjpeg("baseline_ybr422", "rgb8", "dct", "+eb")
    dcmcjpeg("baseline_ybrfull", "rgb8", "dct", "+eb", "+s4")
    dcmcjpeg("baseline_rgb", "rgb8", "dct", "+eb", "+cr")

    # Streams made here, wrapped as single-frame encapsulated files.
    def wrap(name, srcname, ts, frames, bits, photometric=None, kind="lossless", signed=False):
        arr = src[srcname]
        rgb = arr.ndim == 3 and arr.shape[-1] == 3
        ds = dataset(arr, bits, signed=signed, rgb=rgb, uid_seed=name)
        if photometric:
            ds.PhotometricInterpretation = photometric
        ds.PixelData = encapsulate(frames)
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = ts
        path = os.path.join(OUT, name + ".dcm")
        ds.save_as(path, enforce_file_format=True)
        manifest.append(save_arrays(name, path, kind, srcname, kind == "dct"))

    g12 = src["gray12"]
    wrap("own_restart_sv1_gray12", "gray12", JPEGLosslessSV1, [encode_lossless(g12, 12, 1, restart_rows=5)], 12)
    wrap("own_restart_sv4_gray12", "gray12", JPEGLossless, [encode_lossless(g12, 12, 4, restart_rows=1)], 12)
    wrap("own_noninterleaved_sv6_rgb8", "rgb8", JPEGLossless,
         [encode_lossless(src["rgb8"], 8, 6, interleaved=False, restart_rows=16)], 8)
    wrap("own_interleaved_sv5_rgb8", "rgb8", JPEGLossless, [encode_lossless(src["rgb8"], 8, 5)], 8)
    wrap("own_ssss16_sv1_gray16", "gray16", JPEGLosslessSV1, [encode_lossless(src["gray16"], 16, 1)], 16)
    wrap("own_sv2_gray2", "gray2", JPEGLossless, [encode_lossless(src["gray2"], 2, 2)], 2)
    # Baseline with restart markers every 4 MCUs (Pillow), gray and YCbCr 4:2:0.
    for name, img, pi in (("pillow_restart_gray8", Image.fromarray(src["gray8"]), "MONOCHROME2"),
                          ("pillow_restart_ybr420", Image.fromarray(src["rgb8"]), "YBR_FULL_422")):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85, restart_marker_blocks=4, subsampling=2)
        wrap(name, "gray8" if "gray" in name else "rgb8", JPEGBaseline8Bit, [buf.getvalue()], 8, pi, kind="dct")

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    shutil.rmtree(tmp)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"{len(manifest)} fixtures, {total} bytes")


if __name__ == "__main__":
    main()
