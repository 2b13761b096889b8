#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses (tests/fuzz/corpus/NAME/seed-*).

Seeds are small valid inputs of each format, so mutations start from the shapes real files
have: cut-down copies of the test data's real tokenizers, the real chat templates, the test
models' config.json files, hand-written safetensors files, dataset records of every format,
run and SFT configs, HTTP requests and responses. Regression inputs found by fuzzing are kept
beside them as crash-* files and are never rewritten by this script. Run from the repository
root: python3 tests/fuzz/tools/make_corpus.py
"""
import gzip
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
DATA = os.path.join(ROOT, "tests", "data")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def compact(doc):
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def clear_seeds():
    if not os.path.isdir(CORPUS):
        return
    for target in os.listdir(CORPUS):
        for f in os.listdir(os.path.join(CORPUS, target)):
            if f.startswith("seed-"):
                os.remove(os.path.join(CORPUS, target, f))


def small_tokenizer(doc, keep):
    """The first `keep` vocabulary entries, the merges among them, and the added tokens."""
    model = dict(doc["model"])
    vocab = model["vocab"]
    if isinstance(vocab, dict):
        kept = {t: i for t, i in vocab.items() if i < keep}
    else:
        kept = vocab[:keep]
    model["vocab"] = kept
    names = set(kept) if isinstance(kept, dict) else {t[0] for t in kept}
    merges = []
    for m in model.get("merges", []):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a in names and b in names and (a + b) in names:
            merges.append(m)
    model["merges"] = merges
    out = dict(doc)
    out["model"] = model
    out["added_tokens"] = [t for t in doc.get("added_tokens", [])][:8]
    for t in out["added_tokens"]:
        t["id"] = t["id"] % keep
    return out


def main():
    clear_seeds()

    # tokenizer.json: cut-down real tokenizers (byte-level BPE, Qwen3's, a Metaspace one).
    for name in ("gpt2", "qwen3", "sentencepiece"):
        with open(os.path.join(DATA, "tokenizers", name, "tokenizer.json"), encoding="utf-8") as f:
            doc = json.load(f)
        write("tokenizer_json", name + ".json", json.dumps(small_tokenizer(doc, 600), ensure_ascii=False, indent=1))
    with open(os.path.join(ROOT, "resources", "demo", "tokenizer", "tokenizer.json"), encoding="utf-8") as f:
        write("tokenizer_json", "demo.json", json.dumps(small_tokenizer(json.load(f), 400), ensure_ascii=False, indent=1))

    # tokenizer_config.json with real chat templates.
    templates = os.path.join(DATA, "chat_templates")
    for name in sorted(os.listdir(templates)):
        path = os.path.join(templates, name, "tokenizer_config.json")
        if os.path.isfile(path):
            with open(path, "rb") as f:
                write("tokenizer_config", name + ".json", f.read())
    write("tokenizer_config", "named-list.json", compact({
        "bos_token": {"content": "<s>", "lstrip": False}, "eos_token": "</s>",
        "chat_template": [{"name": "default", "template": "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"},
                          {"name": "tool_use", "template": "{{ tools | tojson }}"}]}))

    # config.json of the test models.
    models = os.path.join(DATA, "models")
    for name in sorted(os.listdir(models)):
        path = os.path.join(models, name, "config.json")
        if os.path.isfile(path):
            with open(path, "rb") as f:
                write("model_config", name + ".json", f.read())

    # safetensors: small hand-made files in every dtype, with metadata, empty and scalar tensors.
    def safetensors(tensors, metadata=None, pad=0):
        header, data = {}, b""
        if metadata is not None:
            header["__metadata__"] = metadata
        for name, dtype, shape, raw in tensors:
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
            data += raw
        h = json.dumps(header, separators=(",", ":")).encode() + b" " * pad
        return struct.pack("<Q", len(h)) + h + data
    write("safetensors", "f32.safetensors", safetensors(
        [("wte.weight", "F32", [2, 3], struct.pack("<6f", 1, 2, 3, 4, 5, 6)), ("ln.bias", "F32", [3], struct.pack("<3f", 0, 0.5, -1))],
        {"format": "pt"}))
    write("safetensors", "mixed.safetensors", safetensors(
        [("a", "BF16", [2], b"\x80\x3f\x00\x40"), ("b", "F16", [1, 2], b"\x00\x3c\x00\xc0"), ("c", "I64", [2], struct.pack("<2q", -1, 7)),
         ("d", "I32", [1], struct.pack("<i", 3)), ("e", "U8", [3], b"\x01\x02\x03"), ("f", "BOOL", [2], b"\x01\x00"),
         ("g", "F64", [], struct.pack("<d", 2.5)), ("h", "I8", [0, 4], b""), ("i", "I16", [1], struct.pack("<h", -2))], None, pad=6))

    # Dataset files: byte 0 the container (0 plain, 1 gzip, 2 zstd, 3 lz4), byte 1 the format
    # option (an index into datasetFormatNames(): jsonl hh tldr trl messages sharegpt alpaca
    # ultrafeedback auto), then the text.
    formats = ["jsonl", "hh", "tldr", "trl", "messages", "sharegpt", "alpaca", "ultrafeedback", "auto"]
    def dataset(name, container, fmt, text):
        write("dataset", name, bytes([container, formats.index(fmt)]) + text.encode("utf-8"))
    dataset("jsonl", 0, "jsonl", "\n".join(compact({"prompt": p, "response": r}) for p, r in
                                            [("Sum up: the cat sat", "cat sat"), ("Sum up: a b c", "abc"), ("x", "y")]) + "\n")
    dataset("hh", 1, "hh", compact({"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go away"}) + "\n")
    dataset("tldr", 2, "tldr", compact({"post": "A long post.", "summary": "Short.", "title": "T", "subreddit": "r"}) + "\n")
    dataset("trl", 3, "trl", compact({"prompt": "2+2?", "chosen": "4", "rejected": "5"}) + "\n")
    for name in ("messages.jsonl", "trl_conversational.jsonl", "ultrafeedback.jsonl"):
        with open(os.path.join(DATA, "datasets", name), encoding="utf-8") as f:
            lines = f.read().splitlines()[:4]
        fmt = {"messages.jsonl": "messages", "trl_conversational.jsonl": "trl", "ultrafeedback.jsonl": "ultrafeedback"}[name]
        dataset(name, 0, fmt, "\n".join(lines) + "\n")
    for name, fmt in (("sharegpt.json", "sharegpt"), ("alpaca.json", "alpaca")):
        with open(os.path.join(DATA, "datasets", name), encoding="utf-8") as f:
            text = f.read()
        dataset(name, 0, fmt, text[:4000] if text.startswith("[") is False else json.dumps(json.loads(text)[:3], ensure_ascii=False))
    dataset("auto-array", 0, "auto", json.dumps([{"instruction": "Add", "input": "1 2", "output": "3"},
                                                 {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}]))
    write("dataset", "corrupt-gzip", bytes([4, 0]) + gzip.compress(b'{"prompt": "a", "response": "b"}\n')[:20])

    # Annotations JSONL.
    write("annotations", "all-actions.jsonl", "\n".join(compact(a) for a in [
        {"pair_id": 1, "action": "flip"}, {"pair_id": 2, "action": "discard", "note": "off topic"},
        {"pair_id": 3, "action": "weight", "weight": 0.5}, {"pair_id": 4, "action": "note", "note": "caf\u00e9"},
        {"pair_id": 5, "action": "clear"}]) + "\n")

    # Run configs (docs/run-config.md) and SFT configs (the demo's own).
    run = {"version": 1, "name": "plad beta 1", "method": "plad", "seed": 0,
           "student": {"model": "student"}, "teacher": {"type": "local", "model": "teacher"},
           "data": {"file": "train.jsonl", "fields": {"prompt": "prompt", "response": "reference", "id": "id", "group": "group"},
                    "split": {"seed": 7, "validation": 0.02, "test": 0.0}, "limits": {"max_prompt_tokens": 224, "max_response_tokens": 32}},
           "pairs": {"prompts": 2000, "per_prompt": 1, "batch_size": 32, "teacher": {"temperature": 0.7}, "student": {"temperature": 1.0}},
           "labeling": {"policy": "teacher-preferred"}, "loss": {"score": "mean", "beta": 1.0, "lambda": 0.1},
           "train": {"learning_rate": 0.0002, "max_steps": 500, "batch_size": 16, "checkpoint_every": 50}}
    write("run_config", "plad.json", json.dumps(run, indent=2))
    http = dict(run, method="plad", teacher={"type": "openai", "base_url": "http://127.0.0.1:8000/v1", "model": "t", "chat": True,
                                             "concurrency": 2, "timeout_seconds": 30, "max_retries": 1})
    http["labeling"] = {"policy": "judge", "judge": {"type": "rouge"}}
    write("run_config", "http-judge.json", json.dumps(http, indent=2))
    write("run_config", "seqkd.json", json.dumps(dict(run, method="seqkd"), indent=2))
    for name in sorted(os.listdir(os.path.join(ROOT, "resources", "demo", "configs"))):
        with open(os.path.join(ROOT, "resources", "demo", "configs", name), "rb") as f:
            write("sft_config", name, f.read())

    # HTTP responses of a teacher or judge: byte 0 bit 0 chooses the chat endpoint.
    def response(chat, status, reason, body, extra=""):
        b = body.encode("utf-8")
        return bytes([1 if chat else 0]) + (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{extra}"
                                            f"Content-Length: {len(b)}\r\n\r\n").encode() + b
    write("openai_response", "completion", response(False, 200, "OK", compact(
        {"id": "c1", "object": "text_completion", "choices": [{"index": 0, "text": " cat sat", "finish_reason": "stop"}]})))
    write("openai_response", "chat", response(True, 200, "OK", compact(
        {"id": "c2", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Short."},
                                                                 "finish_reason": "length"}]})))
    write("openai_response", "busy", response(False, 429, "Too Many Requests", compact({"error": {"message": "slow down"}}), "Retry-After: 0\r\n"))
    write("openai_response", "unauthorized", response(True, 401, "Unauthorized", compact({"error": {"message": "bad key", "type": "auth"}})))
    body = compact({"choices": [{"text": "chunked", "finish_reason": "stop"}]}).encode()
    write("openai_response", "chunked", bytes([0]) + b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")

    # HTTP requests to plad serve.
    def request(path, doc, method="POST"):
        b = compact(doc).encode("utf-8")
        return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(b)}\r\n\r\n").encode() + b
    write("serve_request", "completion", request("/v1/completions", {"model": "student", "prompt": "The cat", "max_tokens": 4,
                                                                     "temperature": 0, "n": 2, "stop": ["."], "seed": 3}))
    write("serve_request", "chat", request("/v1/chat/completions", {
        "model": "student", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Sum up: a b c"}],
        "max_tokens": 4, "logprobs": True, "top_logprobs": 2}))
    write("serve_request", "chat-stream", request("/v1/chat/completions", {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], "max_tokens": 3, "stream": True,
        "stream_options": {"include_usage": True}}))
    write("serve_request", "token-ids", request("/v1/completions", {"prompt": [[1, 2, 3], "text"], "max_tokens": 2, "top_p": 0.9, "top_k": 5}))
    write("serve_request", "models", b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")


if __name__ == "__main__":
    sys.exit(main())
