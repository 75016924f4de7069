#!/usr/bin/python3
"""PyTorch side of `tf-bench train`: samples/s of one training step
(forward + backward + AdamW) of a GPT-2 decoder on random tokens, CPU, float32.

Builds the model from a transformers-style config.json with plain torch
modules (no `transformers` package needed): the same math as GPT2LMHeadModel
with dropout off, tied lm_head, eager attention. Prints one JSON record per
run, with the same keys as tf-bench's `bench` record for the comparison.

  /usr/bin/python3 scripts/bench_train_torch.py --config MODEL/config.json -b 8 --seq 128 -t 2 -r 3
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F


class Block(torch.nn.Module):
    def __init__(self, d, heads, inner, eps, act):
        super().__init__()
        self.heads, self.eps, self.act = heads, eps, act
        self.ln_1 = torch.nn.LayerNorm(d, eps=eps)
        self.c_attn = torch.nn.Linear(d, 3 * d)
        self.c_proj = torch.nn.Linear(d, d)
        self.ln_2 = torch.nn.LayerNorm(d, eps=eps)
        self.c_fc = torch.nn.Linear(d, inner)
        self.mlp_proj = torch.nn.Linear(inner, d)

    def forward(self, x):
        B, T, D = x.shape
        H = self.heads
        q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=2)
        q, k, v = (t.view(B, T, H, D // H).transpose(1, 2) for t in (q, k, v))
        # eager attention as transformers' GPT-2 computes it
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D // H)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        s = s.masked_fill(~mask, torch.finfo(s.dtype).min)
        a = (F.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.c_proj(a)
        h = self.c_fc(self.ln_2(x))
        h = F.gelu(h, approximate="tanh") if self.act == "tanh" else F.gelu(h)
        return x + self.mlp_proj(h)


class Gpt2(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        d, v = c["n_embd"], c["vocab_size"]
        inner = c.get("n_inner") or 4 * d
        act = "tanh" if c.get("activation_function", "gelu_new") in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast") else "erf"
        eps = c.get("layer_norm_epsilon", 1e-5)
        self.wte = torch.nn.Embedding(v, d)
        self.wpe = torch.nn.Embedding(c["n_positions"], d)
        self.h = torch.nn.ModuleList(Block(d, c["n_head"], inner, eps, act) for _ in range(c["n_layer"]))
        self.ln_f = torch.nn.LayerNorm(d, eps=eps)
        std = c.get("initializer_range", 0.02)
        for p in self.parameters():
            if p.dim() >= 2:
                torch.nn.init.normal_(p, 0.0, std)

    def forward(self, ids, targets):
        T = ids.shape[1]
        x = self.wte(ids) + self.wpe(torch.arange(T))
        for block in self.h:
            x = block(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("-b", "--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-r", "--repetitions", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1234)
    with open(a.config) as f:
        config = json.load(f)
    if config.get("model_type") != "gpt2":
        raise SystemExit("bench_train_torch.py: only gpt2 configs")
    model = Gpt2(config)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-4)
    ids = torch.randint(0, config["vocab_size"], (a.batch, a.seq + 1))
    inputs, targets = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()

    def step():
        loss = model(inputs, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    step()  # warm-up
    times = []
    for _ in range(a.repetitions):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    rates = [a.batch / t for t in times]
    print(json.dumps({
        "type": "bench", "framework": "pytorch", "torch_version": torch.__version__,
        "test": f"train b{a.batch} s{a.seq}", "model_filename": a.config, "n_threads": a.threads,
        "n_params": sum(p.numel() for p in model.parameters()), "repetitions": a.repetitions,
        "avg_ns": round(statistics.mean(times) * 1e9),
        "avg_samples_per_s": statistics.mean(rates),
        "stddev_samples_per_s": statistics.stdev(rates) if len(rates) > 1 else 0.0,
        "tokens_per_s": a.batch * a.seq / statistics.mean(times),
    }))


if __name__ == "__main__":
    main()
