#!/usr/bin/env python3
"""Builds tiny random checkpoints and their float64 reference outputs for the golden tests.

Run from the repository root with Debian's python3-numpy:  /usr/bin/python3 tests/tools/make_reference_models.py
It writes tests/data/models/<name>/{config.json, model.safetensors, expected.json}.

The reference forward pass below is written straight from the Hugging Face transformers
modelling code (GPT-2, Llama, Mistral, Qwen3) in numpy float64, with its own safetensors
writer, and shares no code with the C++ runtime it checks. It is a development tool: nothing
runs it at build or test time.
"""
import json
import math
import os
import struct
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "models")
INPUT_IDS = [3, 17, 42, 5, 99, 250, 7, 7, 7, 120, 64, 1]


def write_safetensors(path, tensors):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * w


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def attention(q, k, v, window=None):
    # q [H, T, D], k/v [H, T, D] (already expanded for grouped heads)
    T, D = q.shape[1], q.shape[2]
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(D)
    i = np.arange(T)[:, None]
    j = np.arange(T)[None, :]
    allowed = j <= i
    if window is not None:
        allowed &= j > i - window
    scores = np.where(allowed[None], scores, -np.inf)
    return softmax(scores) @ v


def gpt2_forward(cfg, w, ids):
    T = len(ids)
    C, H = cfg["n_embd"], cfg["n_head"]
    D = C // H
    p = "transformer."
    h = w[p + "wte.weight"][ids] + w[p + "wpe.weight"][np.arange(T)]
    for l in range(cfg["n_layer"]):
        b = f"{p}h.{l}."
        a = layer_norm(h, w[b + "ln_1.weight"], w[b + "ln_1.bias"], cfg["layer_norm_epsilon"])
        qkv = a @ w[b + "attn.c_attn.weight"] + w[b + "attn.c_attn.bias"]
        q, k, v = (qkv[:, i * C:(i + 1) * C].reshape(T, H, D).transpose(1, 0, 2) for i in range(3))
        o = attention(q, k, v).transpose(1, 0, 2).reshape(T, C)
        h = h + o @ w[b + "attn.c_proj.weight"] + w[b + "attn.c_proj.bias"]
        m = layer_norm(h, w[b + "ln_2.weight"], w[b + "ln_2.bias"], cfg["layer_norm_epsilon"])
        m = gelu_tanh(m @ w[b + "mlp.c_fc.weight"] + w[b + "mlp.c_fc.bias"])
        h = h + m @ w[b + "mlp.c_proj.weight"] + w[b + "mlp.c_proj.bias"]
    h = layer_norm(h, w[p + "ln_f.weight"], w[p + "ln_f.bias"], cfg["layer_norm_epsilon"])
    head = w[p + "wte.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return h @ head.T


def rope_inv_freq(cfg, D):
    inv = 1.0 / (cfg.get("rope_theta", 10000.0) ** (np.arange(0, D, 2, dtype=np.float64) / D))
    s = cfg.get("rope_scaling")
    if s is None:
        return inv
    kind = s.get("rope_type", s.get("type"))
    if kind == "linear":
        return inv / s["factor"]
    assert kind == "llama3"
    factor, lo, hi, old = s["factor"], s["low_freq_factor"], s["high_freq_factor"], s["original_max_position_embeddings"]
    out = []
    for f in inv:
        wavelen = 2 * math.pi / f
        if wavelen < old / hi:
            out.append(f)
        elif wavelen > old / lo:
            out.append(f / factor)
        else:
            smooth = (old / wavelen - lo) / (hi - lo)
            out.append((1 - smooth) * f / factor + smooth * f)
    return np.array(out)


def apply_rope(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


def llama_forward(cfg, w, ids):
    T = len(ids)
    C, H = cfg["hidden_size"], cfg["num_attention_heads"]
    K = cfg.get("num_key_value_heads", H)
    D = cfg.get("head_dim", C // H)
    eps = cfg["rms_norm_eps"]
    qwen3 = cfg["model_type"] == "qwen3"
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    o_bias = cfg["model_type"] != "qwen2" and cfg.get("attention_bias", False)
    window = cfg.get("sliding_window") if cfg["model_type"] == "mistral" else None
    inv = rope_inv_freq(cfg, D)
    ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
    emb = np.concatenate([ang, ang], axis=-1)
    cos, sin = np.cos(emb), np.sin(emb)

    def linear(x, name, bias):
        y = x @ w[name + ".weight"].T
        return y + w[name + ".bias"] if bias else y

    h = w["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{l}."
        x = rms_norm(h, w[b + "input_layernorm.weight"], eps)
        q = linear(x, b + "self_attn.q_proj", qkv_bias).reshape(T, H, D)
        k = linear(x, b + "self_attn.k_proj", qkv_bias).reshape(T, K, D)
        v = linear(x, b + "self_attn.v_proj", qkv_bias).reshape(T, K, D)
        if qwen3:
            q = rms_norm(q, w[b + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[b + "self_attn.k_norm.weight"], eps)
        q = apply_rope(q.transpose(1, 0, 2), cos, sin)
        k = apply_rope(k.transpose(1, 0, 2), cos, sin)
        v = v.transpose(1, 0, 2)
        k = np.repeat(k, H // K, axis=0)
        v = np.repeat(v, H // K, axis=0)
        o = attention(q, k, v, window).transpose(1, 0, 2).reshape(T, H * D)
        h = h + linear(o, b + "self_attn.o_proj", o_bias)
        x = rms_norm(h, w[b + "post_attention_layernorm.weight"], eps)
        mlp_bias = cfg.get("mlp_bias", False)
        m = silu(linear(x, b + "mlp.gate_proj", mlp_bias)) * linear(x, b + "mlp.up_proj", mlp_bias)
        h = h + linear(m, b + "mlp.down_proj", mlp_bias)
    h = rms_norm(h, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return h @ head.T


def gpt2_weights(cfg, rng):
    C, V, F = cfg["n_embd"], cfg["vocab_size"], 4 * cfg["n_embd"]
    w = {"transformer.wte.weight": rng.normal(0, 0.5, (V, C)), "transformer.wpe.weight": rng.normal(0, 0.3, (cfg["n_positions"], C))}
    for l in range(cfg["n_layer"]):
        b = f"transformer.h.{l}."
        w[b + "ln_1.weight"] = 1 + rng.normal(0, 0.2, C)
        w[b + "ln_1.bias"] = rng.normal(0, 0.2, C)
        w[b + "attn.c_attn.weight"] = rng.normal(0, 0.4, (C, 3 * C))
        w[b + "attn.c_attn.bias"] = rng.normal(0, 0.2, 3 * C)
        w[b + "attn.c_proj.weight"] = rng.normal(0, 0.3, (C, C))
        w[b + "attn.c_proj.bias"] = rng.normal(0, 0.2, C)
        w[b + "ln_2.weight"] = 1 + rng.normal(0, 0.2, C)
        w[b + "ln_2.bias"] = rng.normal(0, 0.2, C)
        w[b + "mlp.c_fc.weight"] = rng.normal(0, 0.3, (C, F))
        w[b + "mlp.c_fc.bias"] = rng.normal(0, 0.2, F)
        w[b + "mlp.c_proj.weight"] = rng.normal(0, 0.2, (F, C))
        w[b + "mlp.c_proj.bias"] = rng.normal(0, 0.2, C)
    w["transformer.ln_f.weight"] = 1 + rng.normal(0, 0.2, C)
    w["transformer.ln_f.bias"] = rng.normal(0, 0.2, C)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = rng.normal(0, 0.5, (V, C))
    return w


def llama_weights(cfg, rng):
    C, V, F = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    H = cfg["num_attention_heads"]
    K = cfg.get("num_key_value_heads", H)
    D = cfg.get("head_dim", C // H)
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    o_bias = cfg["model_type"] != "qwen2" and cfg.get("attention_bias", False)
    mlp_bias = cfg.get("mlp_bias", False)
    w = {"model.embed_tokens.weight": rng.normal(0, 1.0, (V, C))}
    for l in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{l}."
        for name, out, inp, bias in [("self_attn.q_proj", H * D, C, qkv_bias), ("self_attn.k_proj", K * D, C, qkv_bias),
                                     ("self_attn.v_proj", K * D, C, qkv_bias), ("self_attn.o_proj", C, H * D, o_bias),
                                     ("mlp.gate_proj", F, C, mlp_bias), ("mlp.up_proj", F, C, mlp_bias),
                                     ("mlp.down_proj", C, F, mlp_bias)]:
            w[b + name + ".weight"] = rng.normal(0, 0.35, (out, inp))
            if bias:
                w[b + name + ".bias"] = rng.normal(0, 0.3, out)
        w[b + "input_layernorm.weight"] = 1 + rng.normal(0, 0.3, C)
        w[b + "post_attention_layernorm.weight"] = 1 + rng.normal(0, 0.3, C)
        if cfg["model_type"] == "qwen3":
            w[b + "self_attn.q_norm.weight"] = 1 + rng.normal(0, 0.3, D)
            w[b + "self_attn.k_norm.weight"] = 1 + rng.normal(0, 0.3, D)
    w["model.norm.weight"] = 1 + rng.normal(0, 0.3, C)
    if not cfg.get("tie_word_embeddings", False):
        w["lm_head.weight"] = rng.normal(0, 0.5, (V, C))
    return w


MODELS = {
    "qwen3": {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 300, "hidden_size": 64,
              "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "head_dim": 24, "hidden_act": "silu", "max_position_embeddings": 128, "rms_norm_eps": 1e-6,
              "rope_theta": 1000000.0, "rope_scaling": None, "attention_bias": False, "tie_word_embeddings": True,
              "use_sliding_window": False, "bos_token_id": 0, "eos_token_id": 2, "torch_dtype": "float32"},
    "mistral": {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 300, "hidden_size": 64,
                "intermediate_size": 112, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1,
                "hidden_act": "silu", "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                "sliding_window": 5, "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
                "torch_dtype": "float32"},
    "llama3rope": {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 300, "hidden_size": 64,
                   "intermediate_size": 80, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
                   "head_dim": 16, "hidden_act": "silu", "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
                   "rope_theta": 500000.0,
                   "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                    "original_max_position_embeddings": 32},
                   "attention_bias": True, "mlp_bias": True, "tie_word_embeddings": False, "bos_token_id": 0,
                   "eos_token_id": [1, 2], "torch_dtype": "float32"},
    "gpt2untied": {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 300, "n_positions": 64,
                   "n_ctx": 64, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_inner": None, "activation_function": "gelu_new",
                   "layer_norm_epsilon": 1e-5, "tie_word_embeddings": False, "bos_token_id": 299, "eos_token_id": 299,
                   "torch_dtype": "float32"},
}


def main():
    for index, (name, cfg) in enumerate(MODELS.items()):
        rng = np.random.default_rng(1000 + index)
        is_gpt2 = cfg["model_type"] == "gpt2"
        weights = (gpt2_weights if is_gpt2 else llama_weights)(cfg, rng)
        # Store float32 weights and compute the reference from exactly those values.
        weights = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        w64 = {k: v.astype(np.float64) for k, v in weights.items()}
        forward = gpt2_forward if is_gpt2 else llama_forward
        logits = forward(cfg, w64, INPUT_IDS)
        lp = log_softmax(logits)
        token_lp = [float(lp[t - 1, INPUT_IDS[t]]) for t in range(1, len(INPUT_IDS))]
        seq = list(INPUT_IDS)
        for _ in range(16):
            seq.append(int(np.argmax(forward(cfg, w64, seq)[-1])))
        out = os.path.join(ROOT, name)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        write_safetensors(os.path.join(out, "model.safetensors"), weights)
        expected = {
            "note": "float64 reference from tests/tools/make_reference_models.py",
            "input_ids": INPUT_IDS,
            "logits": {"model_type": cfg["model_type"], "vocab_size": cfg["vocab_size"], "dtype": "float64",
                       "n_tokens": len(INPUT_IDS), "logits": logits.tolist()},
            "logprobs": {"token_logprobs": token_lp, "sum_logprob": sum(token_lp), "mean_logprob": sum(token_lp) / len(token_lp)},
            "greedy_16": {"greedy_ids": seq[len(INPUT_IDS):]},
        }
        with open(os.path.join(out, "expected.json"), "w") as f:
            json.dump(expected, f)
        spread = float(logits.std())
        print(f"{name}: logits std {spread:.2f}, greedy {seq[len(INPUT_IDS):]}")


if __name__ == "__main__":
    sys.exit(main())
