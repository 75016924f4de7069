#!/usr/bin/python3
"""PyTorch reference for tests/train/torch_parity_test.cpp: one AdamW step of a
GPT-2 model, from the folder the test dumps.

  TF_TRAIN_REFERENCE_DUMP=/tmp/ref build/tests/test_train --gtest_filter='TorchParity.*'
  /usr/bin/python3 scripts/train_reference.py /tmp/ref > tests/train/data/gpt2_adamw_step.json

The folder holds config.json + model.safetensors (the test's seeded init, f32,
HF names and layouts) and batch.json (ids, targets, optimizer settings). The
model is GPT2LMHeadModel's math written with plain torch ops (no
`transformers` needed): Conv1D weights [in, out], tied lm_head, tanh GELU,
eager causal attention, no dropout. Output (stdout, JSON): the loss, and per
parameter the gradient's L2 norm, the gradient and the updated value at a few
fixed indices, and the loss after the step.
"""
import json
import math
import struct
import sys

import torch
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[8 + n + b : 8 + n + e]), dtype=torch.float32)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def forward(p, c, ids, batch, seq):
    D, H, eps = c["n_embd"], c["n_head"], c.get("layer_norm_epsilon", 1e-5)
    x = p["transformer.wte.weight"][ids] + p["transformer.wpe.weight"][torch.arange(seq)].repeat(batch, 1)
    mask = torch.ones(seq, seq, dtype=torch.bool).tril()
    for i in range(c["n_layer"]):
        w = lambda n: p[f"transformer.h.{i}.{n}"]
        h = F.layer_norm(x, (D,), w("ln_1.weight"), w("ln_1.bias"), eps)
        qkv = h @ w("attn.c_attn.weight") + w("attn.c_attn.bias")
        q, k, v = (t.reshape(batch, seq, H, D // H).transpose(1, 2) for t in qkv.split(D, dim=1))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D // H)
        s = s.masked_fill(~mask, torch.finfo(s.dtype).min)
        a = (F.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(batch * seq, D)
        x = x + a @ w("attn.c_proj.weight") + w("attn.c_proj.bias")
        h = F.layer_norm(x, (D,), w("ln_2.weight"), w("ln_2.bias"), eps)
        h = F.gelu(h @ w("mlp.c_fc.weight") + w("mlp.c_fc.bias"), approximate="tanh")
        x = x + h @ w("mlp.c_proj.weight") + w("mlp.c_proj.bias")
    x = F.layer_norm(x, (D,), p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], eps)
    return F.linear(x, p["transformer.wte.weight"])


def main():
    folder = sys.argv[1]
    with open(f"{folder}/config.json") as f:
        config = json.load(f)
    with open(f"{folder}/batch.json") as f:
        b = json.load(f)
    params = read_safetensors(f"{folder}/model.safetensors")
    for t in params.values():
        t.requires_grad_(True)
    ids = torch.tensor(b["ids"], dtype=torch.long)
    targets = torch.tensor(b["targets"], dtype=torch.long)
    batch, seq = b["batch"], b["seq"]

    def loss_of():
        return F.cross_entropy(forward(params, config, ids, batch, seq), targets, ignore_index=-100)

    loss = loss_of()
    loss.backward()
    names = list(params)
    decay = [params[n] for n in names if params[n].dim() >= 2]
    no_decay = [params[n] for n in names if params[n].dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": b["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=b["lr"], betas=(b["beta1"], b["beta2"]), eps=b["eps"])
    report = {"loss": loss.item(), "params": {}}
    for n in names:
        t = params[n]
        k = t.numel()
        at = sorted({0, k // 3, k // 2, k - 1})
        g = t.grad.reshape(-1)
        report["params"][n] = {"indices": at, "grad_norm": g.norm().item(), "grad": [g[i].item() for i in at]}
    opt.step()
    for n in names:
        flat = params[n].detach().reshape(-1)
        report["params"][n]["value_after"] = [flat[i].item() for i in report["params"][n]["indices"]]
    with torch.no_grad():
        report["loss_after"] = loss_of().item()
    report["torch_version"] = torch.__version__
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
