#!/usr/bin/env python3
"""Plain PyTorch-eager reference for `plad bench generate`.

Loads a Hugging Face checkpoint (config.json + model.safetensors, Llama or GPT-2 style, float32)
with nothing but Debian's python3-torch, then generates greedily the way an eager PyTorch loop
does: prompts in the order given, left-padded batches, a KV cache grown with torch.cat, every
row of a batch run until all rows have stopped (EOS) or the token limit is reached. Prints one
JSON line: the wall time and the generated ids.

Usage: generate.py SPEC.json, where SPEC holds
  {"model": DIR, "prompts": [[ids...], ...], "batch": 32, "max_new_tokens": 32,
   "eos": [ids...], "threads": 2, "warmup": true}
"""
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def load_safetensors(path):
    """The safetensors format: an 8-byte little-endian header size, a JSON header, raw data."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = bytearray(f.read())
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        size = torch.tensor([], dtype=dtype).element_size()
        t = torch.frombuffer(data, dtype=dtype, count=(end - begin) // size, offset=begin)
        tensors[name] = t.view(info["shape"]).float()
    return tensors


class Llama:
    def __init__(self, config, w):
        self.L = config["num_hidden_layers"]
        self.H = config["num_attention_heads"]
        self.K = config.get("num_key_value_heads", self.H)
        self.C = config["hidden_size"]
        self.D = config.get("head_dim", self.C // self.H)
        self.eps = config.get("rms_norm_eps", 1e-6)
        p = "model."
        self.embed = w[p + "embed_tokens.weight"]
        self.head = w.get("lm_head.weight", self.embed)
        self.norm = w[p + "norm.weight"]
        self.layers = []
        for i in range(self.L):
            q = f"{p}layers.{i}."
            self.layers.append({n: w[q + n + ".weight"] for n in (
                "input_layernorm", "post_attention_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")})
        theta = config.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.D, 2, dtype=torch.float64) / self.D)).float()

    def rms(self, x, weight):
        return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    @staticmethod
    def rotate(x, cos, sin):
        half = x.shape[-1] // 2
        return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin

    def forward(self, ids, positions, mask, cache):
        """ids, positions [B, T]; mask [B, S] (1 = real); cache: list of (k, v) or None. Returns logits of the last position."""
        B, T = ids.shape
        x = F.embedding(ids, self.embed)
        freqs = positions.float()[..., None] * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        S = mask.shape[1]
        causal = torch.ones(T, S, dtype=torch.bool).tril(S - T)
        bias = torch.zeros(B, 1, T, S).masked_fill(~(causal[None, None] & mask[:, None, None, :].bool()), torch.finfo(torch.float32).min)
        new_cache = []
        for i, l in enumerate(self.layers):
            h = self.rms(x, l["input_layernorm"])
            q = F.linear(h, l["self_attn.q_proj"]).view(B, T, self.H, self.D).transpose(1, 2)
            k = F.linear(h, l["self_attn.k_proj"]).view(B, T, self.K, self.D).transpose(1, 2)
            v = F.linear(h, l["self_attn.v_proj"]).view(B, T, self.K, self.D).transpose(1, 2)
            q, k = self.rotate(q, cos, sin), self.rotate(k, cos, sin)
            if cache is not None:
                k = torch.cat((cache[i][0], k), dim=2)
                v = torch.cat((cache[i][1], v), dim=2)
            new_cache.append((k, v))
            if self.K != self.H:
                k = k.repeat_interleave(self.H // self.K, dim=1)
                v = v.repeat_interleave(self.H // self.K, dim=1)
            scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.D) + bias
            a = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(B, T, -1)
            x = x + F.linear(a, l["self_attn.o_proj"])
            h = self.rms(x, l["post_attention_layernorm"])
            x = x + F.linear(F.silu(F.linear(h, l["mlp.gate_proj"])) * F.linear(h, l["mlp.up_proj"]), l["mlp.down_proj"])
        x = self.rms(x[:, -1], self.norm)
        return F.linear(x, self.head), new_cache


class Gpt2:
    def __init__(self, config, w):
        self.L = config["n_layer"]
        self.H = config["n_head"]
        self.C = config["n_embd"]
        self.D = self.C // self.H
        self.eps = config.get("layer_norm_epsilon", 1e-5)
        p = "transformer." if "transformer.wte.weight" in w else ""
        self.wte = w[p + "wte.weight"]
        self.wpe = w[p + "wpe.weight"]
        self.head = w.get("lm_head.weight", self.wte)
        self.ln_f = (w[p + "ln_f.weight"], w[p + "ln_f.bias"])
        self.layers = []
        for i in range(self.L):
            q = f"{p}h.{i}."
            self.layers.append({n: w[q + n] for n in (
                "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
                "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias")})

    def forward(self, ids, positions, mask, cache):
        B, T = ids.shape
        C = self.C
        x = F.embedding(ids, self.wte) + F.embedding(positions, self.wpe)
        S = mask.shape[1]
        causal = torch.ones(T, S, dtype=torch.bool).tril(S - T)
        bias = torch.zeros(B, 1, T, S).masked_fill(~(causal[None, None] & mask[:, None, None, :].bool()), torch.finfo(torch.float32).min)
        new_cache = []
        for i, l in enumerate(self.layers):
            h = F.layer_norm(x, (C,), l["ln_1.weight"], l["ln_1.bias"], self.eps)
            qkv = torch.addmm(l["attn.c_attn.bias"], h.reshape(-1, C), l["attn.c_attn.weight"]).view(B, T, 3 * C)
            q, k, v = (t.view(B, T, self.H, self.D).transpose(1, 2) for t in qkv.split(C, dim=2))
            if cache is not None:
                k = torch.cat((cache[i][0], k), dim=2)
                v = torch.cat((cache[i][1], v), dim=2)
            new_cache.append((k, v))
            scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.D) + bias
            a = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(-1, C)
            x = x + torch.addmm(l["attn.c_proj.bias"], a, l["attn.c_proj.weight"]).view(B, T, C)
            h = F.layer_norm(x, (C,), l["ln_2.weight"], l["ln_2.bias"], self.eps).reshape(-1, C)
            m = F.gelu(torch.addmm(l["mlp.c_fc.bias"], h, l["mlp.c_fc.weight"]), approximate="tanh")
            x = x + torch.addmm(l["mlp.c_proj.bias"], m, l["mlp.c_proj.weight"]).view(B, T, C)
        x = F.layer_norm(x[:, -1], (C,), self.ln_f[0], self.ln_f[1], self.eps)
        return F.linear(x, self.head), new_cache


def generate_batch(model, prompts, max_new, eos):
    B = len(prompts)
    P = max(len(p) for p in prompts)
    ids = torch.zeros(B, P, dtype=torch.long)
    mask = torch.zeros(B, P, dtype=torch.long)
    for b, p in enumerate(prompts):
        ids[b, P - len(p):] = torch.tensor(p)
        mask[b, P - len(p):] = 1
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    logits, cache = model.forward(ids, positions, mask, None)
    out = [[] for _ in range(B)]
    done = torch.zeros(B, dtype=torch.bool)
    eos_ids = torch.tensor(eos, dtype=torch.long) if eos else None
    for step in range(max_new):
        nxt = logits.argmax(-1)
        for b in range(B):
            if not done[b]:
                out[b].append(int(nxt[b]))
        if eos_ids is not None:
            done |= torch.isin(nxt, eos_ids)
        if bool(done.all()) or step + 1 == max_new:
            break
        mask = torch.cat((mask, torch.ones(B, 1, dtype=torch.long)), dim=1)
        positions = positions[:, -1:] + 1
        logits, cache = model.forward(nxt[:, None], positions, mask, cache)
    return out


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    torch.set_num_threads(spec["threads"])
    with open(os.path.join(spec["model"], "config.json")) as f:
        config = json.load(f)
    weights = load_safetensors(os.path.join(spec["model"], "model.safetensors"))
    model = Gpt2(config, weights) if config["model_type"] == "gpt2" else Llama(config, weights)
    prompts, batch = spec["prompts"], spec["batch"]
    with torch.inference_mode():
        if spec.get("warmup", True):
            generate_batch(model, prompts[:batch], 2, spec["eos"])
        times = []
        for _ in range(max(1, spec.get("repeat", 1))):
            outputs = []
            start = time.perf_counter()
            for first in range(0, len(prompts), batch):
                outputs += generate_batch(model, prompts[first:first + batch], spec["max_new_tokens"], spec["eos"])
            times.append(time.perf_counter() - start)
    # The fastest run: the others lost time to whatever else the machine was doing.
    print(json.dumps({"torch": torch.__version__, "seconds": min(times), "all_seconds": times, "outputs": outputs}))


if __name__ == "__main__":
    main()
