#!/usr/bin/env python3
"""Writes Tests/Fixtures/imaging/: PNG/JPEG files and what Pillow and transformers make of them.

Run by hand (the fixtures are committed):

    python3 -m pip install pillow            # Pillow 13 was used
    python3 -m pip install --no-deps torchvision   # matching the installed torch (0.29.2 with torch 2.15)
    python3 tools/make_imaging_fixtures.py

Needs numpy, Pillow, torch, torchvision and transformers 5.24. torchvision matters: without it transformers
silently falls back to the PIL backend, so the tool refuses to run.

Layout (all arrays .npy, HxWxC for images, CxHxW for pixel_values):
  decode/manifest.json        one entry per PNG/JPEG: what DecodedImage must hold
  decode/<name>.png|.jpg      the file
  decode/<name>.samples.npy   the samples at full depth (uint8 or uint16), as libpng/libjpeg give them
  decode/<name>.pil_rgb.npy   np.array(Image.open(f).convert("RGB"))
  decode/<name>.tf_rgb.npy    transformers.image_transforms.convert_to_rgb(Image.open(f), return_numpy=True)
  decode/alpha_ramp.png       RGBA 256x256 covering every (value, alpha) pair; alpha_ramp.tf_rgb.png is what
                              convert_to_rgb makes of it (stored as an RGB PNG)
  bad/                        headers that must be refused (huge and zero sizes)
  preprocess/preprocessor_config.json   Gemma 3's Hub config with a 56x56 size
  preprocess/manifest.json    one entry per source image
  preprocess/<name>.tv.npy    pixel_values from AutoImageProcessor (torchvision backend, transformers' default)
  preprocess/<name>.pil.npy   pixel_values from AutoImageProcessor(backend="pil") (== use_fast=False)
  resize/                     one 61x53 RGB source resized to many sizes by the two kernels the processors call:
                              torchvision's resize of a uint8 tensor (antialias=True) and Pillow's
                              Image.resize(BILINEAR); outputs concatenated in tv.npy / pil.npy (uint8)
  preprocess/variants/<v>/    other rescale/normalise options (preprocessor_config.json, tv.npy, pil.npy) on
                              variants/source.png at 16x16
  preprocess/big/             the real 896x896 size on a tiny 16-bit gray source: the 8-bit resized image as PNG
                              (exactly recoverable from pixel_values) and pixel_values[:, ::16, ::16]
"""

import io
import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np

try:
    import torchvision  # noqa: F401
except ImportError:
    sys.exit("torchvision is not installed: transformers would use its PIL backend for both; install it first")

import PIL
import torch
import transformers
from PIL import Image
from transformers import AutoImageProcessor
from transformers.image_transforms import convert_to_rgb

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "imaging")
RNG = np.random.default_rng(20240611)


# --------------------------------------------------------------------------------------------
# A small PNG writer for what Pillow cannot write (2/4-bit gray, 16-bit colour, colour keys, interlacing)
# --------------------------------------------------------------------------------------------

def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _pack_row(row: np.ndarray, depth: int) -> bytes:
    """One scanline of samples (flattened) at `depth` bits, big-endian, MSB first for sub-byte depths."""
    flat = row.reshape(-1)
    if depth == 16:
        return flat.astype(">u2").tobytes()
    if depth == 8:
        return flat.astype(np.uint8).tobytes()
    per_byte = 8 // depth
    out = bytearray()
    for i in range(0, len(flat), per_byte):
        byte = 0
        for j in range(per_byte):
            value = int(flat[i + j]) if i + j < len(flat) else 0
            byte |= value << (8 - depth * (j + 1))
        out.append(byte)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(samples: np.ndarray, color_type: int, depth: int, palette=None, trns: bytes | None = None,
              interlace: bool = False, filter_type: int = 0) -> bytes:
    """samples: H x W x C raw file values (palette indices for colour type 3)."""
    height, width = samples.shape[:2]
    raw = bytearray()

    def emit(image: np.ndarray):
        previous = None
        for row in image:
            line = _pack_row(row, depth)
            if filter_type == 2 and previous is not None:  # "Up", to exercise libpng's unfiltering
                raw.append(2)
                raw.extend(bytes((a - b) & 0xFF for a, b in zip(line, previous)))
            else:
                raw.append(0)
                raw.extend(line)
            previous = line

    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                emit(sub)
    else:
        emit(samples)
    out = b"\x89PNG\r\n\x1a\n"
    out += _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        out += _chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        out += _chunk(b"tRNS", trns)
    out += _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    return out + _chunk(b"IEND", b"")


# --------------------------------------------------------------------------------------------
# Decode cases
# --------------------------------------------------------------------------------------------

def smooth_noise(h, w, c, amplitude=40, maximum=255):
    """A gradient plus noise: compresses well, still exercises rounding."""
    y, x = np.mgrid[0:h, 0:w]
    base = (x * 3 + y * 5)[..., None] + np.arange(c)[None, None, :] * 60
    noise = RNG.integers(-amplitude, amplitude + 1, (h, w, c))
    return np.clip(base % (maximum + 1) + noise, 0, maximum)


def scale_gray(values: np.ndarray, depth: int) -> np.ndarray:
    return (values * {1: 255, 2: 85, 4: 17, 8: 1}[depth]).astype(np.uint8)


def expand_palette(indices, palette, trns):
    pal = np.zeros((256, 3), np.uint8)
    pal[: len(palette)] = palette
    rgb = pal[indices]
    if trns is None:
        return rgb
    alpha = np.full(256, 255, np.uint8)
    alpha[: len(trns)] = np.frombuffer(trns, np.uint8)
    return np.concatenate([rgb, alpha[indices][..., None]], axis=-1)


def decode_cases():
    """(name, bytes, expected samples HxWxC, manifest fields)."""
    cases = []

    def add(name, data, samples, model, depth, source_depth, palette=False, key=None, interlaced=False, writer="own"):
        cases.append((name, data, samples, dict(
            file=f"{name}.png", format="PNG", width=int(samples.shape[1]), height=int(samples.shape[0]),
            channels=int(samples.shape[2]), colorModel=model, bitDepth=depth, sourceBitDepth=source_depth,
            isPalette=palette, transparentColor=key, isInterlaced=interlaced, writer=writer)))

    def pil_png(image, **kw):
        buf = io.BytesIO()
        image.save(buf, format="PNG", **kw)
        return buf.getvalue()

    h, w = 9, 13  # odd sizes exercise every Adam7 pass and partial bytes
    # Gray at every depth, made with Pillow where it can write them
    bits1 = RNG.integers(0, 2, (h, w, 1))
    add("gray1_pil", pil_png(Image.fromarray(bits1[..., 0].astype(bool))), scale_gray(bits1, 1), "gray", 8, 1, writer="pil")
    for depth in (2, 4):
        v = RNG.integers(0, 1 << depth, (h, w, 1))
        add(f"gray{depth}", write_png(v, 0, depth), scale_gray(v, depth), "gray", 8, depth)
    g8 = smooth_noise(h, w, 1).astype(np.uint8)
    add("gray8_pil", pil_png(Image.fromarray(g8[..., 0], "L")), g8, "gray", 8, 8, writer="pil")
    g16 = RNG.integers(0, 65536, (h, w, 1)).astype(np.uint16)
    g16[0, :6, 0] = [0, 100, 255, 256, 1000, 65535]
    add("gray16_pil", pil_png(Image.fromarray(g16[..., 0])), g16, "gray", 16, 16, writer="pil")
    low16 = RNG.integers(0, 600, (h, w, 1)).astype(np.uint16)  # straddles 255: the clip matters
    add("gray16_low", write_png(low16, 0, 16, filter_type=2), low16, "gray", 16, 16)
    # Gray with a tRNS colour key (Pillow's quirks: low byte of the key vs the converted 8-bit value)
    g8k = g8.copy()
    g8k[::3, ::2] = 77
    add("gray8_trns", write_png(g8k, 0, 8, trns=struct.pack(">H", 77)), g8k, "gray", 8, 8, key=[77])
    v4 = RNG.integers(0, 16, (h, w, 1))
    add("gray4_trns15", write_png(v4, 0, 4, trns=struct.pack(">H", 15)), scale_gray(v4, 4), "gray", 8, 4, key=[15])
    add("gray4_trns0", write_png(v4, 0, 4, trns=struct.pack(">H", 0)), scale_gray(v4, 4), "gray", 8, 4, key=[0])
    add("gray1_trns0", write_png(bits1, 0, 1, trns=struct.pack(">H", 0)), scale_gray(bits1, 1), "gray", 8, 1, key=[0])
    l16k = low16.copy()
    l16k[::2, ::3] = 300
    l16k[1, 1] = 44
    add("gray16_trns300", write_png(l16k, 0, 16, trns=struct.pack(">H", 300)), l16k, "gray", 16, 16, key=[300])
    # Gray + alpha
    la = np.concatenate([smooth_noise(h, w, 1), RNG.integers(0, 256, (h, w, 1))], -1).astype(np.uint8)
    la[0, :3, 1] = [0, 255, 128]
    add("la8_pil", pil_png(Image.fromarray(la, "LA")), la, "grayAlpha", 8, 8, writer="pil")
    la16 = RNG.integers(0, 65536, (h, w, 2)).astype(np.uint16)
    add("la16", write_png(la16, 4, 16), la16, "grayAlpha", 16, 16)
    # RGB
    rgb = smooth_noise(h, w, 3).astype(np.uint8)
    add("rgb8_pil", pil_png(Image.fromarray(rgb, "RGB")), rgb, "rgb", 8, 8, writer="pil")
    rgb16 = RNG.integers(0, 65536, (h, w, 3)).astype(np.uint16)
    add("rgb16", write_png(rgb16, 2, 16), rgb16, "rgb", 16, 16)
    rgbk = rgb.copy()
    rgbk[::2, ::2] = [10, 20, 30]
    add("rgb8_trns", write_png(rgbk, 2, 8, trns=struct.pack(">3H", 10, 20, 30)), rgbk, "rgb", 8, 8, key=[10, 20, 30])
    rgb16k = rgb16.copy()
    rgb16k[::2, ::3] = [0x0A00, 0x1400, 0x1E00]  # high bytes 10, 20, 30: Pillow matches these to the key's low bytes
    add("rgb16_trns", write_png(rgb16k, 2, 16, trns=struct.pack(">3H", 0x110A, 0x2214, 0x331E)), rgb16k, "rgb", 16, 16,
        key=[0x110A, 0x2214, 0x331E])
    # RGBA
    rgba = np.concatenate([smooth_noise(h, w, 3), RNG.integers(0, 256, (h, w, 1))], -1).astype(np.uint8)
    rgba[0, :3, 3] = [0, 255, 1]
    add("rgba8_pil", pil_png(Image.fromarray(rgba, "RGBA")), rgba, "rgba", 8, 8, writer="pil")
    rgba16 = RNG.integers(0, 65536, (h, w, 4)).astype(np.uint16)
    add("rgba16", write_png(rgba16, 6, 16, filter_type=2), rgba16, "rgba", 16, 16)
    # Palette
    palette = RNG.integers(0, 256, (16, 3)).astype(np.uint8)
    idx = RNG.integers(0, 16, (h, w))
    p_img = Image.fromarray(idx.astype(np.uint8), "P")
    p_img.putpalette(palette.reshape(-1).tolist())
    add("pal8_pil", pil_png(p_img), expand_palette(idx, palette, None), "rgb", 8, 4, palette=True, writer="pil")
    trns = bytes([0, 64, 128, 200, 255, 7])
    add("pal_trns_pil", pil_png(p_img, transparency=trns), expand_palette(idx, palette, trns), "rgba", 8, 4,
        palette=True, writer="pil")
    for depth in (1, 2, 4):
        n = 1 << depth
        pidx = RNG.integers(0, n, (h, w))
        add(f"pal{depth}", write_png(pidx[..., None], 3, depth, palette=palette[:n]),
            expand_palette(pidx, palette[:n], None), "rgb", 8, depth, palette=True)
    oob = RNG.integers(0, 12, (h, w))  # indices 8...11 lie past an 8-entry palette
    add("pal8_oob_trns", write_png(oob[..., None], 3, 8, palette=palette[:8], trns=bytes([10, 20, 30])),
        expand_palette(oob, palette[:8], bytes([10, 20, 30])), "rgba", 8, 8, palette=True)
    # Interlaced (Adam7)
    add("gray8_interlaced", write_png(g8, 0, 8, interlace=True), g8, "gray", 8, 8, interlaced=True)
    v2 = RNG.integers(0, 4, (h, w, 1))
    add("gray2_interlaced", write_png(v2, 0, 2, interlace=True), scale_gray(v2, 2), "gray", 8, 2, interlaced=True)
    add("rgb16_interlaced", write_png(rgb16, 2, 16, interlace=True), rgb16, "rgb", 16, 16, interlaced=True)
    add("rgba8_interlaced", write_png(rgba, 6, 8, interlace=True, filter_type=2), rgba, "rgba", 8, 8, interlaced=True)
    pidx4 = RNG.integers(0, 16, (h, w))
    add("pal4_trns_interlaced", write_png(pidx4[..., None], 3, 4, palette=palette, trns=trns, interlace=True),
        expand_palette(pidx4, palette, trns), "rgba", 8, 4, palette=True, interlaced=True)
    return cases


def jpeg_cases():
    cases = []
    h, w = 23, 37
    rgb = smooth_noise(h, w, 3, amplitude=60).astype(np.uint8)
    gray = smooth_noise(h, w, 1, amplitude=60).astype(np.uint8)[..., 0]
    cmyk = smooth_noise(h, w, 4, amplitude=60).astype(np.uint8)

    def save(image, **kw):
        buf = io.BytesIO()
        image.save(buf, format="JPEG", **kw)
        return buf.getvalue()

    rgb_image = Image.fromarray(rgb, "RGB")
    cases.append(("jpeg_420", save(rgb_image, quality=90, subsampling=2), "rgb", False))
    cases.append(("jpeg_422", save(rgb_image, quality=90, subsampling=1), "rgb", False))
    cases.append(("jpeg_444", save(rgb_image, quality=95, subsampling=0), "rgb", False))
    cases.append(("jpeg_progressive", save(rgb_image, quality=85, subsampling=2, progressive=True), "rgb", True))
    cases.append(("jpeg_optimized", save(rgb_image, quality=75, optimize=True), "rgb", False))
    cases.append(("jpeg_gray", save(Image.fromarray(gray, "L"), quality=90), "gray", False))
    cases.append(("jpeg_gray_progressive", save(Image.fromarray(gray, "L"), quality=90, progressive=True), "gray", True))
    cases.append(("jpeg_cmyk", save(Image.fromarray(cmyk, "CMYK"), quality=90), "cmyk", False))
    return cases


def alpha_ramp():
    x, y = np.meshgrid(np.arange(256), np.arange(256))
    rgba = np.stack([x, 255 - x, (x * 37 + y * 11) % 256, y], -1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    return buf.getvalue()


def write_decode_fixtures(folder):
    os.makedirs(folder, exist_ok=True)
    manifest = []
    for name, data, samples, fields in decode_cases():
        path = os.path.join(folder, fields["file"])
        with open(path, "wb") as f:
            f.write(data)
        # bit depth and interlacing as written (Pillow picks a palette's bit depth itself)
        fields["sourceBitDepth"], fields["isInterlaced"] = int(data[24]), bool(data[28])
        im = Image.open(path)
        im.load()
        if fields["writer"] == "pil":  # Pillow reads back what it wrote (sanity)
            back = np.array(im)
            if back.ndim == 2:
                back = back[..., None]
            if im.mode == "1":
                back = back.astype(np.uint8) * 255
            if im.mode != "P":
                assert np.array_equal(back, samples), name
        np.save(os.path.join(folder, f"{name}.samples.npy"), samples)
        np.save(os.path.join(folder, f"{name}.pil_rgb.npy"), np.array(im.convert("RGB")))
        np.save(os.path.join(folder, f"{name}.tf_rgb.npy"), convert_to_rgb(Image.open(path), return_numpy=True))
        fields["pilMode"] = im.mode
        manifest.append(dict(name=name, **fields))
    for name, data, model, progressive in jpeg_cases():
        path = os.path.join(folder, f"{name}.jpg")
        with open(path, "wb") as f:
            f.write(data)
        im = Image.open(path)
        arr = np.array(im)
        if arr.ndim == 2:
            arr = arr[..., None]
        np.save(os.path.join(folder, f"{name}.samples.npy"), arr)
        np.save(os.path.join(folder, f"{name}.pil_rgb.npy"), np.array(im.convert("RGB")))
        np.save(os.path.join(folder, f"{name}.tf_rgb.npy"), convert_to_rgb(Image.open(path), return_numpy=True))
        manifest.append(dict(name=name, file=f"{name}.jpg", format="JPEG", width=im.width, height=im.height,
                             channels=int(arr.shape[2]), colorModel=model, bitDepth=8, sourceBitDepth=8,
                             isPalette=False, transparentColor=None, isInterlaced=progressive, writer="pil",
                             pilMode=im.mode))
    path = os.path.join(folder, "alpha_ramp.png")
    with open(path, "wb") as f:
        f.write(alpha_ramp())
    Image.fromarray(convert_to_rgb(Image.open(path), return_numpy=True), "RGB").save(
        os.path.join(folder, "alpha_ramp.tf_rgb.png"))
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return manifest


def write_bad_fixtures(folder):
    os.makedirs(folder, exist_ok=True)

    def png_with_header(width, height):
        raw = zlib.compress(b"\0" * 4)
        return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                + _chunk(b"IDAT", raw) + _chunk(b"IEND", b""))

    with open(os.path.join(folder, "huge_100000x100000.png"), "wb") as f:
        f.write(png_with_header(100000, 100000))
    with open(os.path.join(folder, "zero_width.png"), "wb") as f:
        f.write(png_with_header(0, 10))
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8), "L").save(buf, format="JPEG")
    jpeg = bytearray(buf.getvalue())
    sof = jpeg.find(b"\xff\xc0")
    assert sof > 0
    huge = bytearray(jpeg)
    huge[sof + 5: sof + 9] = struct.pack(">HH", 65535, 65535)
    with open(os.path.join(folder, "huge_65535x65535.jpg"), "wb") as f:
        f.write(huge)
    empty = bytearray(jpeg)
    empty[sof + 5: sof + 7] = struct.pack(">H", 0)
    with open(os.path.join(folder, "zero_height.jpg"), "wb") as f:
        f.write(empty)
    with open(os.path.join(folder, "not_an_image.png"), "wb") as f:
        f.write(b"GIF89a this is not what the name says\n")


# --------------------------------------------------------------------------------------------
# Preprocessing through transformers
# --------------------------------------------------------------------------------------------

HUB_CONFIG = {  # google/medgemma-4b-it and google/gemma-3-4b-it ship this, with size 896x896
    "do_convert_rgb": None,
    "do_normalize": True,
    "do_pan_and_scan": None,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_processor_type": "Gemma3ImageProcessor",
    "image_seq_length": 256,
    "image_std": [0.5, 0.5, 0.5],
    "pan_and_scan_max_num_crops": None,
    "pan_and_scan_min_crop_size": None,
    "pan_and_scan_min_ratio_to_activate": None,
    "processor_class": "Gemma3Processor",
    "resample": 2,
    "rescale_factor": 0.00392156862745098,
    "size": {"height": 56, "width": 56},
}

# Gemma3Processor fills the Hub's nulls with these before calling the image processor.
PROCESSOR_KWARGS = dict(do_convert_rgb=True, do_pan_and_scan=False)


def processors(config_dir):
    tv = AutoImageProcessor.from_pretrained(config_dir)
    pil = AutoImageProcessor.from_pretrained(config_dir, backend="pil")
    assert type(tv).__name__ == "Gemma3ImageProcessor", type(tv)
    assert type(pil).__name__ == "Gemma3ImageProcessorPil", type(pil)
    return {"tv": tv, "pil": pil}


def pixel_values(processor, path):
    out = processor(images=Image.open(path), return_tensors="np", **PROCESSOR_KWARGS)["pixel_values"]
    assert out.shape[0] == 1  # float32, or uint8 when neither rescaling nor normalising
    return out[0]


def write_preprocess_fixtures(folder):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
        json.dump(HUB_CONFIG, f, indent=2)
        f.write("\n")
    procs = processors(folder)

    def save_png(name, array, mode=None):
        path = os.path.join(folder, name)
        image = Image.fromarray(array) if mode is None else Image.fromarray(array, mode)
        image.save(path)
        return path

    sources = []
    sources.append(("at_size_rgb", save_png("at_size_rgb.png", RNG.integers(0, 256, (56, 56, 3)).astype(np.uint8), "RGB"),
                    "56x56 RGB, already at the target size"))
    sources.append(("down_wide_rgb", save_png("down_wide_rgb.png", smooth_noise(97, 173, 3, 90).astype(np.uint8), "RGB"),
                    "173x97 RGB down to 56x56 (Pillow: horizontal pass first)"))
    sources.append(("down_tall_rgb", save_png("down_tall_rgb.png", smooth_noise(203, 61, 3, 90).astype(np.uint8), "RGB"),
                    "61x203 RGB down to 56x56 (Pillow 13: vertical pass first)"))
    sources.append(("up_small_rgb", save_png("up_small_rgb.png", RNG.integers(0, 256, (19, 31, 3)).astype(np.uint8), "RGB"),
                    "31x19 RGB up to 56x56"))
    sources.append(("mixed_gray", save_png("mixed_gray.png", smooth_noise(150, 30, 1, 90).astype(np.uint8)[..., 0], "L"),
                    "30x150 gray (L): width up, height down"))
    sources.append(("near_gray", save_png("near_gray.png", smooth_noise(60, 64, 1, 90).astype(np.uint8)[..., 0], "L"),
                    "64x60 gray (L) to 56x56: a small downscale"))
    g16 = RNG.integers(0, 1200, (64, 80)).astype(np.uint16)
    sources.append(("gray16", save_png("gray16.png", g16), "80x64 16-bit gray (I;16, values to 1200: clipped)"))
    rgba = np.concatenate([smooth_noise(60, 45, 3, 90), RNG.integers(0, 256, (60, 45, 1))], -1).astype(np.uint8)
    sources.append(("rgba", save_png("rgba.png", rgba, "RGBA"), "45x60 RGBA (composited onto white)"))
    pal = Image.fromarray(RNG.integers(0, 16, (40, 50)).astype(np.uint8), "P")
    pal.putpalette(RNG.integers(0, 256, 48).tolist())
    path = os.path.join(folder, "palette_trns.png")
    pal.save(path, transparency=bytes(RNG.integers(0, 256, 16).astype(np.uint8)))
    sources.append(("palette_trns", path, "50x40 4-bit palette with tRNS alpha"))
    path = os.path.join(folder, "photo.jpg")
    Image.fromarray(smooth_noise(70, 90, 3, 70).astype(np.uint8), "RGB").save(path, quality=88)
    sources.append(("photo_jpeg", path, "90x70 baseline 4:2:0 JPEG"))

    manifest = []
    for name, path, note in sources:
        entry = dict(name=name, file=os.path.basename(path), note=note)
        values = {}
        for key, proc in procs.items():
            values[key] = pixel_values(proc, path)
            assert values[key].dtype == np.float32
            np.save(os.path.join(folder, f"{name}.{key}.npy"), values[key])
            entry[key] = f"{name}.{key}.npy"
        diff = np.abs(values["tv"] - values["pil"]).max()
        entry["tv_vs_pil_max_abs_diff"] = float(diff)
        manifest.append(entry)
        print(f"{name:14s} torchvision vs PIL backend: max |diff| {diff:.6f} ({diff * 127.5:.2f} levels)")
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    # Other option values through the same image: the float arithmetic of rescale/normalise in each backend
    variants_dir = os.path.join(folder, "variants")
    os.makedirs(variants_dir, exist_ok=True)
    src = save_png("variants/source.png", smooth_noise(14, 20, 3, 90).astype(np.uint8), "RGB")
    variants = {
        "clip_mean_std": dict(image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711]),
        "no_rescale": dict(do_rescale=False, image_mean=[100.0, 120.5, 0.25], image_std=[50.0, 3.0, 0.7]),
        "no_normalize": dict(do_normalize=False, rescale_factor=0.0037),
        "neither": dict(do_rescale=False, do_normalize=False),
    }
    variant_manifest = []
    for name, overrides in variants.items():
        d = os.path.join(variants_dir, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
            json.dump(dict(HUB_CONFIG, size={"height": 16, "width": 16}, **overrides), f, indent=2)
            f.write("\n")
        for key, proc in processors(d).items():
            values = pixel_values(proc, src)
            assert values.dtype == (np.uint8 if name == "neither" else np.float32), (name, key, values.dtype)
            np.save(os.path.join(d, f"{key}.npy"), values.astype(np.float32))
        variant_manifest.append(name)
    with open(os.path.join(variants_dir, "manifest.json"), "w") as f:
        json.dump(variant_manifest, f)
        f.write("\n")

    # The real size: a tiny 16-bit gray source to 896x896
    big = os.path.join(folder, "big")
    os.makedirs(big, exist_ok=True)
    cfg = dict(HUB_CONFIG, size={"height": 896, "width": 896})
    with open(os.path.join(big, "preprocessor_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    src = os.path.join(big, "tiny_gray16.png")
    Image.fromarray(RNG.integers(0, 400, (17, 24)).astype(np.uint16)).save(src)
    for key, proc in processors(big).items():
        pv = pixel_values(proc, src)
        assert pv.shape == (3, 896, 896)
        levels = np.round(pv * 127.5 + 127.5)  # exact for mean = std = 0.5 in both backends
        assert np.allclose((levels - 127.5) / 127.5, pv, atol=1e-6)
        assert np.array_equal(levels[0], levels[1]) and np.array_equal(levels[0], levels[2])
        Image.fromarray(levels[0].astype(np.uint8), "L").save(os.path.join(big, f"tiny_gray16.{key}.png"))
        np.save(os.path.join(big, f"tiny_gray16.{key}.sub16.npy"), np.ascontiguousarray(pv[:, ::16, ::16]))


# Output (width, height) for the 61x53 source (not 1x1: PyTorch 2.15 trips an internal assert on it): down, up,
# mixed, extreme, one axis only, near 1, and Pillow 13's vertical-first rule (inH - outH > 2 * (inW - outW)) just
# below, at and above its threshold: (45, 22), (47, 25), (46, 22).
RESIZE_SIZES = [(1, 2), (3, 1), (2, 3), (5, 53), (61, 7), (30, 26), (31, 27), (20, 20), (60, 52), (62, 54), (9, 45),
                (55, 12), (61, 25), (25, 53), (40, 33), (47, 19), (44, 10), (80, 20), (20, 80), (90, 70), (7, 6),
                (45, 22), (47, 25), (46, 22), (56, 56), (5, 40)]


def write_resize_fixtures(folder):
    from torchvision.transforms.v2 import functional as tvF

    os.makedirs(folder, exist_ok=True)
    source = RNG.integers(0, 256, (53, 61, 3)).astype(np.uint8)
    source[10:40, 20:50] = smooth_noise(30, 30, 3, 30)
    path = os.path.join(folder, "source.png")
    Image.fromarray(source, "RGB").save(path)
    chw = torch.from_numpy(source).permute(2, 0, 1).contiguous()
    tv, pil, manifest = [], [], []
    for width, height in RESIZE_SIZES:
        a = tvF.resize(chw, [height, width], interpolation=tvF.InterpolationMode.BILINEAR, antialias=True)
        tv.append(a.permute(1, 2, 0).numpy().reshape(-1))
        pil.append(np.array(Image.open(path).resize((width, height), Image.Resampling.BILINEAR)).reshape(-1))
        manifest.append(dict(width=width, height=height, count=int(width * height * 3),
                             differing=int((tv[-1] != pil[-1]).sum())))
    np.save(os.path.join(folder, "tv.npy"), np.concatenate(tv))
    np.save(os.path.join(folder, "pil.npy"), np.concatenate(pil))
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(ROOT)
    write_decode_fixtures(os.path.join(ROOT, "decode"))
    write_bad_fixtures(os.path.join(ROOT, "bad"))
    write_resize_fixtures(os.path.join(ROOT, "resize"))
    write_preprocess_fixtures(os.path.join(ROOT, "preprocess"))
    versions = dict(transformers=transformers.__version__, torch=torch.__version__,
                    torchvision=torchvision.__version__, pillow=PIL.__version__, numpy=np.__version__,
                    cpu_capability=torch.backends.cpu.get_cpu_capability())
    with open(os.path.join(ROOT, "versions.json"), "w") as f:
        json.dump(versions, f, indent=1)
        f.write("\n")
    with open(os.path.join(ROOT, "README.md"), "w") as f:
        f.write("Written by tools/make_imaging_fixtures.py; do not edit by hand.\n\n```\n" + __doc__.strip() + "\n```\n")
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, files in os.walk(ROOT) for n in files)
    print(f"wrote {ROOT} ({total / 1024:.0f} KiB) with {versions}")


if __name__ == "__main__":
    main()
