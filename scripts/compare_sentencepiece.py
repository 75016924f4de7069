#!/usr/bin/env python3
"""Differential check of the LLaMA SentencePiece path against SentencePiece
itself: ggml-vocab-llama-spm.gguf through `tf-run tokenize --no-special` vs
sentencepiece with trained/llama-shakespeare/tokenizer.model (the same
vocabulary), on 3000 passages of tinyshakespeare, 3000 random strings of
awkward characters and the whole corpus. Needs Debian's python3-sentencepiece.
Usage (from the repository root, after a build): scripts/compare_sentencepiece.py
"""
import json, random, subprocess, sys, sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file='../shared/models/trained/llama-shakespeare/tokenizer.model')
text = open('../shared/models/data/tinyshakespeare.txt').read()
random.seed(5)
alpha = list("abcdefghij XYZ  \t\n.,'!?0123456789") + ['é','ß','中','日','🦙','—','ж','\u00a0','\u3000','\u0301','▁','<s>','\r']
inputs = []
lines = text.split('\n')
for i in range(0, 3000):
    k = random.randint(0, len(lines)-5); inputs.append('\n'.join(lines[k:k+random.randint(1,4)]))
for i in range(3000):
    inputs.append(''.join(random.choice(alpha) for _ in range(random.randint(0, 30))))
inputs.append(text)
lines_in = '\n'.join(json.dumps({'text': t}) for t in inputs) + '\n'
r = subprocess.run(['./build/bin/tf-run','tokenize','-m','../shared/models/tokenizers/ggml-vocab-llama-spm.gguf','--no-special','--jsonl-in','-'], input=lines_in.encode(), capture_output=True)
recs = [json.loads(l) for l in r.stdout.decode().splitlines()]
bad = 0
for t, rec in zip(inputs, recs):
    exp = sp.encode(t)
    if rec['ids'] != exp:
        bad += 1
        if bad < 6: print(repr(t[:80]), '\n ours', rec['ids'][:20], '\n sp  ', exp[:20])
print('mismatches', bad, 'of', len(inputs), r.stderr.decode()[:200])
sys.exit(1 if bad else 0)
