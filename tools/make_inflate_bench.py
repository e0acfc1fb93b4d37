#!/usr/bin/env python3
"""Writes a raw DEFLATE stream (no zlib header, level 6, as DICOM's deflated transfer syntax uses) of the
files named on the command line, concatenated and repeated until at least --megabytes of input, for
DICOMTests' InflateSpeedTests (DSA_INFLATE_BENCH=<output>)."""
import argparse
import zlib

parser = argparse.ArgumentParser()
parser.add_argument("output")
parser.add_argument("inputs", nargs="+")
parser.add_argument("--megabytes", type=int, default=256)
args = parser.parse_args()
data = b"".join(open(p, "rb").read() for p in args.inputs)
if not data:
    raise SystemExit("the inputs are empty")
repeats = max(1, -(-args.megabytes * 1_000_000 // len(data)))
compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
with open(args.output, "wb") as out:
    for _ in range(repeats):
        out.write(compressor.compress(data))
    out.write(compressor.flush())
print(f"{len(data) * repeats} bytes -> {args.output}")
