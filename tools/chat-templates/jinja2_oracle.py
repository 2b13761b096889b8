#!/usr/bin/python3
"""Renders test cases with jinja2 configured the way transformers' apply_chat_template configures
it, to give the C++ engine's tests an independent expectation. Needs Debian's python3-jinja2
(apt-get install python3-jinja2); the tests themselves never run Python.

The environment (from transformers' documented behaviour): ImmutableSandboxedEnvironment with
trim_blocks and lstrip_blocks, the loopcontrols extension and a `generation` block that renders
its body; `tojson` is json.dumps(x, ensure_ascii=False, indent, separators, sort_keys); globals
raise_exception (a TemplateError) and strftime_now (here at a fixed date, 2026-12-02 12:00).

  jinja2_oracle.py chat DIR          fills DIR/cases.json "expected_jinja2" for every DIR/*/tokenizer_config.json
  jinja2_oracle.py constructs FILE   fills "expected" (or "error": true) for each {"template", "context"} in FILE
"""
import datetime
import json
import os
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime.datetime(2026, 12, 2, 12, 0, 0)


class GenerationBlock(Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return FIXED_NOW.strftime(fmt)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationBlock, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]


def special_tokens(config):
    tokens = {}
    for key in TOKEN_KEYS:
        value = config.get(key)
        if isinstance(value, str):
            tokens[key] = value
        elif isinstance(value, dict) and isinstance(value.get("content"), str):
            tokens[key] = value["content"]
    return tokens


def render(env, source, context):
    try:
        return env.from_string(source).render(**context)
    except Exception as e:  # every failure is an expected error
        return {"error": f"{type(e).__name__}: {e}"}


def chat(directory):
    path = os.path.join(directory, "cases.json")
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    env = environment()
    expected = {}
    for model in sorted(doc["expected"]):
        with open(os.path.join(directory, model, "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        results = []
        for case in doc["cases"]:
            context = dict(special_tokens(config))
            context.update(messages=case["conversation"], tools=case.get("tools"), documents=None,
                           add_generation_prompt=case["add_generation_prompt"])
            context.update(case.get("variables", {}))
            results.append(render(env, config["chat_template"], context))
        expected[model] = results
    doc["expected_jinja2"] = expected
    doc["source_jinja2"] = f"jinja2 {jinja2.__version__} (Debian python3-jinja2), configured as transformers renders chat templates"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")


def constructs(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    env = environment()
    for case in doc["cases"]:
        result = render(env, case["template"], case.get("context", {}))
        case.pop("expected", None)
        case.pop("error", None)
        if isinstance(result, dict):
            case["error"] = result["error"]
        else:
            case["expected"] = result
    doc["source"] = f"jinja2 {jinja2.__version__} (Debian python3-jinja2), configured as transformers renders chat templates"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("chat", "constructs"):
        sys.exit(__doc__)
    (chat if sys.argv[1] == "chat" else constructs)(sys.argv[2])
