#!/usr/bin/env python3
"""Plain PyTorch reference for `plad bench sft`.

Builds the same decoder (Llama-style or GPT-2-style) as the C++ benchmark from a JSON shape
given on the command line, then times the same SFT step: forward over batch x (prompt + response)
tokens, cross-entropy on the response tokens only (the output head runs on the positions that
predict them), backward, global gradient-norm clipping at 1.0 and an AdamW update (decay on
matrices only). Prints one JSON line with the step times.

Needs only Debian's python3-torch. Usage: sft_step.py '{"style": "llama", ...}'
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def causal_attention(q, k, v):
    # q, k, v: [B, H, T, D]
    T = q.shape[2]
    scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(q.shape[-1])
    mask = torch.full((T, T), float("-inf")).triu(1)
    probs = torch.softmax(scores + mask, dim=-1)
    return torch.matmul(probs, v)


class LlamaBlock(nn.Module):
    def __init__(self, s):
        super().__init__()
        C, H = s["hidden"], s["heads"]
        K = s.get("kv_heads", H)
        self.H, self.K, self.D = H, K, C // H
        self.input_norm = RMSNorm(C, 1e-5)
        self.q = nn.Linear(C, H * self.D, bias=False)
        self.k = nn.Linear(C, K * self.D, bias=False)
        self.v = nn.Linear(C, K * self.D, bias=False)
        self.o = nn.Linear(H * self.D, C, bias=False)
        self.post_norm = RMSNorm(C, 1e-5)
        self.gate = nn.Linear(C, s["intermediate"], bias=False)
        self.up = nn.Linear(C, s["intermediate"], bias=False)
        self.down = nn.Linear(s["intermediate"], C, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        h = self.input_norm(x)
        q = self.q(h).view(B, T, self.H, self.D).transpose(1, 2)
        k = self.k(h).view(B, T, self.K, self.D).transpose(1, 2)
        v = self.v(h).view(B, T, self.K, self.D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.K != self.H:
            k = k.repeat_interleave(self.H // self.K, dim=1)
            v = v.repeat_interleave(self.H // self.K, dim=1)
        a = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, -1)
        x = x + self.o(a)
        h = self.post_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Gpt2Block(nn.Module):
    def __init__(self, s):
        super().__init__()
        C, H = s["hidden"], s["heads"]
        self.H, self.D = H, C // H
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.c_fc = nn.Linear(C, s["intermediate"])
        self.mlp_proj = nn.Linear(s["intermediate"], C)

    def forward(self, x, cos, sin):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.H, self.D).transpose(1, 2) for t in (q, k, v))
        a = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, C)
        x = x + self.c_proj(a)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Decoder(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.style = s["style"]
        C = s["hidden"]
        self.embed = nn.Embedding(s["vocab"], C)
        if self.style == "gpt2":
            self.positions = nn.Embedding(s["context"], C)
            self.blocks = nn.ModuleList(Gpt2Block(s) for _ in range(s["layers"]))
            self.norm = nn.LayerNorm(C, eps=1e-5)
        else:
            self.blocks = nn.ModuleList(LlamaBlock(s) for _ in range(s["layers"]))
            self.norm = RMSNorm(C, 1e-5)
            D = C // s["heads"]
            inv_freq = 1.0 / (10000.0 ** (torch.arange(0, D, 2).float() / D))
            self.register_buffer("inv_freq", inv_freq, persistent=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)

    def hidden_states(self, ids):
        B, T = ids.shape
        pos = torch.arange(T)
        x = self.embed(ids)
        cos = sin = None
        if self.style == "gpt2":
            x = x + self.positions(pos)
        else:
            freqs = torch.outer(pos.float(), self.inv_freq)
            emb = torch.cat((freqs, freqs), dim=-1)
            cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.norm(x)

    def head(self, h):
        return F.linear(h, self.embed.weight)  # tied output head


def main():
    s = json.loads(sys.argv[1])
    torch.set_num_threads(s["threads"])
    torch.manual_seed(s.get("seed", 0))
    B, P, R = s["batch"], s["prompt"], s["response"]
    model = Decoder(s)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=s.get("lr", 3e-4), betas=(0.9, 0.95), eps=1e-8)
    generator = torch.Generator().manual_seed(s.get("seed", 0))
    times = []
    for step in range(s["warmup"] + s["steps"]):
        ids = torch.randint(0, s["vocab"], (B, P + R), generator=generator)
        start = time.perf_counter()
        optimizer.zero_grad()
        hidden = model.hidden_states(ids)
        logits = model.head(hidden[:, P - 1:P + R - 1])  # positions that predict the response
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, P:].reshape(-1), reduction="sum") / (B * R)
        loss.item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        elapsed = time.perf_counter() - start
        if step >= s["warmup"]:
            times.append(elapsed)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "parameters": sum(p.numel() for p in model.parameters()), "step_seconds": times}))


if __name__ == "__main__":
    main()
