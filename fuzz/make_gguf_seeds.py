#!/usr/bin/env python3
"""Writes a small seed corpus for gguf_fuzz: tiny valid GGUF files that cover
every value type, nested arrays, block types, custom alignments and version 2.
Written with struct, independently of the C++ writer. Usage: make_gguf_seeds.py OUT_DIR"""
import os
import struct
import sys

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
FMT = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?", U64: "Q", I64: "q", F64: "d"}
# ggml type id: (block size, bytes per block)
GGML = {0: (1, 4), 1: (1, 2), 2: (32, 18), 8: (32, 34), 12: (256, 144), 24: (1, 1), 30: (1, 2), 35: (256, 66)}


def s(text):
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def value(t, v):
    if t == STR:
        return s(v)
    if t == ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(value(et, x) for x in items)
    return struct.pack("<" + FMT[t], v)


def gguf(kvs, tensors, version=3, alignment=32):
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, t, v in kvs:
        out += s(key) + struct.pack("<I", t) + value(t, v)
    offset, datas = 0, []
    for name, ne, ggml_type, seed in tensors:
        block, size = GGML[ggml_type]
        n = 1
        for d in ne:
            n *= d
        nbytes = n // block * size
        out += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        out += struct.pack("<IQ", ggml_type, offset)
        datas.append(bytes((seed + 13 * i) & 255 for i in range(nbytes)))
        offset += -(-nbytes // alignment) * alignment
    if tensors:
        out += bytes(-len(out) % alignment)
        for d in datas:
            out += d + bytes(-len(d) % alignment)
    return out


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    every = [
        ("general.architecture", STR, "llama"),
        ("u8", U8, 200), ("i8", I8, -100), ("u16", U16, 60000), ("i16", I16, -30000),
        ("u32", U32, 4000000000), ("i32", I32, -2000000000), ("f32", F32, 0.5), ("bool", BOOL, True),
        ("str", STR, "h\u2581llo"), ("u64", U64, 2**64 - 1), ("i64", I64, -2**63), ("f64", F64, 1e300),
        ("arr.str", ARR, (STR, ["a", "", "ccc"])), ("arr.f32", ARR, (F32, [0.0, -1.5])),
        ("arr.i32", ARR, (I32, [3, 1, 2])), ("arr.bool", ARR, (BOOL, [True, False])),
        ("arr.nested", ARR, (ARR, [(U8, [1, 2]), (STR, ["x"]), (ARR, [(F64, [])])])),
    ]
    vocab = [
        ("general.architecture", STR, "llama"), ("llama.block_count", U32, 1),
        ("llama.embedding_length", U32, 32), ("tokenizer.ggml.model", STR, "llama"),
        ("tokenizer.ggml.tokens", ARR, (STR, ["<unk>", "<s>", "</s>"] + ["t%d" % i for i in range(29)])),
        ("tokenizer.ggml.scores", ARR, (F32, [float(-i) for i in range(32)])),
        ("tokenizer.ggml.token_type", ARR, (I32, [2, 3, 3] + [1] * 29)),
        ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.add_space_prefix", BOOL, True),
        ("general.quantization_version", U32, 2),
    ]
    model = [("token_embd.weight", [32, 4], 0, 1), ("output_norm.weight", [32], 0, 2),
             ("blk.0.q4_0", [64, 2], 2, 3), ("blk.0.q8_0", [32, 1], 8, 4), ("blk.0.q4_K", [256], 12, 5),
             ("blk.0.f16", [3, 1, 1, 2], 1, 6), ("blk.0.bf16", [5], 30, 7), ("i8", [7], 24, 8),
             ("tq2", [256], 35, 9)]
    seeds = {
        "empty.gguf": gguf([], []),
        "every_type.gguf": gguf(every, []),
        "vocab.gguf": gguf(vocab, []),
        "model.gguf": gguf(vocab, model),
        "align64.gguf": gguf([("general.alignment", U32, 64)] + vocab[:2], model[:4], alignment=64),
        "align1.gguf": gguf([("general.alignment", U32, 1)], model[5:], alignment=1),
        "v2.gguf": gguf(every[:3], model[:2], version=2),
        "scalar.gguf": gguf([], [("s", [], 0, 1)]),
    }
    for name, data in seeds.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
