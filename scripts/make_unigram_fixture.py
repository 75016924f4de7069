#!/usr/bin/env python3
"""Builds tests/tokenizer/data/sentencepiece_unigram.json: a SentencePiece
unigram model (T5 style: nmt_nfkc normalization, dummy prefix, extra white
space removed) trained on the start of tinyshakespeare, with test inputs and
the ids SentencePiece gives them. The C++ tests rebuild a GGUF (tokenizer
model "t5") and a tokenizer.json from it and must reproduce those ids.

Needs Debian's python3-sentencepiece (apt-get install python3-sentencepiece).
Usage: scripts/make_unigram_fixture.py ../shared/models/data/tinyshakespeare.txt
"""
import base64, io, json, random, sys
import sentencepiece as spm

def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]; i += 1
        value |= (b & 0x7F) << shift; shift += 7
        if b < 0x80: return value, i

def fields(buf):
    """(field number, wire type, value) of a serialized protobuf message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0: value, i = varint(buf, i)
        elif wire == 1: value, i = buf[i:i + 8], i + 8
        elif wire == 5: value, i = buf[i:i + 4], i + 4
        elif wire == 2:
            n, i = varint(buf, i); value, i = buf[i:i + n], i + n
        else: raise ValueError(f"wire type {wire}")
        yield num, wire, value

def main():
    text = open(sys.argv[1], encoding="utf-8").read()[:300000]
    extra = ["Ｆｕｌｌｗｉｄｔｈ ＡＢＣ and ﬁne ligatures", "naïve café — “quotes” …", "ⅠⅡⅢ ① ½ ㎏", "日本語のテキスト"]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(text.split("\n") + extra * 50), model_writer=model,
                                   model_type="unigram", vocab_size=1200, normalization_rule_name="nmt_nfkc",
                                   character_coverage=1.0, add_dummy_prefix=True, remove_extra_whitespaces=True,
                                   unk_id=2, bos_id=-1, eos_id=1, pad_id=0, user_defined_symbols=["<sep>"],
                                   minloglevel=2)
    proto = model.getvalue()
    sp = spm.SentencePieceProcessor(model_proto=proto)
    charsmap = b""
    for num, _, value in fields(proto):
        if num == 3:  # normalizer_spec
            for n2, _, v2 in fields(value):
                if n2 == 2: charsmap = v2  # precompiled_charsmap
    types = []
    for i in range(sp.get_piece_size()):
        t = 1
        if sp.is_unknown(i): t = 2
        elif sp.is_control(i): t = 3
        elif sp.is_unused(i): t = 5
        elif sp.is_byte(i): t = 6
        elif sp.id_to_piece(i) == "<sep>": t = 4
        types.append(t)
    random.seed(7)
    alphabet = list("abcdefghij XYZ  \t\n.,'!?0123456789") + ["é", "ß", "中", "日", "🦙", "—", "ж", "\u00a0", "\u3000",
                                                          "\u0301", "Ｆ", "ﬁ", "①", "½", "<sep>", "  "]
    lines = text.split("\n")
    inputs = ["", " ", "Hello world", "  Hello   world  ", "<sep>x<sep>"] + extra
    for _ in range(150):
        k = random.randrange(len(lines) - 4)
        inputs.append("\n".join(lines[k:k + random.randint(1, 3)]))
    for _ in range(150):
        inputs.append("".join(random.choice(alphabet) for _ in range(random.randint(0, 25))))
    fixture = {
        "source": "scripts/make_unigram_fixture.py (sentencepiece " + spm.__version__ + ")",
        "pieces": [[sp.id_to_piece(i), sp.get_score(i), types[i]] for i in range(sp.get_piece_size())],
        "precompiled_charsmap": base64.b64encode(charsmap).decode(),
        "unk_id": sp.unk_id(), "eos_id": sp.eos_id(), "pad_id": sp.pad_id(),
        "cases": [{"text": t, "ids": sp.encode(t)} for t in inputs],
    }
    json.dump(fixture, sys.stdout, ensure_ascii=False, separators=(",", ":"))

main()
