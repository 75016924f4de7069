#!/usr/bin/env python3
"""Writes a small seed corpus for fuzz/safetensors_fuzz into the folder given
as argument: valid files of every dtype (as the Python serializer lays them
out), metadata, empty and scalar tensors, plus a few near-misses."""
import json
import os
import struct
import sys

SIZES = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "BF16": 2, "F16": 2, "I16": 2, "I8": 1}
RANK = {"I64": 18, "F64": 17, "F32": 15, "I32": 13, "BF16": 12, "F16": 11, "I16": 9, "I8": 5}


def serialize(tensors, metadata=None, pad=True):
    """tensors: {name: (dtype, shape)}; data bytes are a counting pattern."""
    order = sorted(tensors, key=lambda n: (-RANK[tensors[n][0]], n))
    header, data, offset = {}, b"", 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name in order:
        dtype, shape = tensors[name]
        n = SIZES[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        data += bytes((offset + i) & 255 for i in range(n))
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        "empty": serialize({}),
        "meta": serialize({}, {"format": "pt"}),
        "one_f32": serialize({"w": ("F32", [2, 3])}, {"format": "pt"}),
        "all_dtypes": serialize({d.lower(): (d, [3]) for d in SIZES}, {"format": "pt", "k": "v"}),
        "empty_tensors": serialize({"a": ("F32", [0]), "b": ("I64", [2, 0]), "c": ("F16", [1])}),
        "scalar": serialize({"s": ("F64", [])}),
        "unpadded": serialize({"x": ("BF16", [5]), "y": ("I8", [3])}, pad=False),
        "layers": serialize({f"model.layers.{i}.w": ("F16", [2, 2]) for i in range(4)}, {"format": "pt"}),
    }
    bad = bytearray(seeds["one_f32"])
    bad[-1:] = b""  # truncated
    seeds["truncated"] = bytes(bad)
    for name, blob in seeds.items():
        with open(os.path.join(out, name + ".safetensors"), "wb") as f:
            f.write(blob)


if __name__ == "__main__":
    main()
