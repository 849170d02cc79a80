#!/usr/bin/env python3
"""Writes the chat-template goldens the C++ tests check AX Engine's Jinja interpreter against.

Renders every template in tests/tokenizer/data/chat_templates/*.jinja with the real Python jinja2,
set up exactly as Hugging Face transformers' apply_chat_template sets it up
(utils/chat_template_utils.py, _compile_jinja_template):

    ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                  extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    filters["tojson"]  = json.dumps(x, ensure_ascii=False, indent=indent,
                                    separators=separators, sort_keys=sort_keys)
    globals["raise_exception"] = raise TemplateError(message)
    globals["strftime_now"]    = datetime.now().strftime(format)

and called as HF calls it: render(messages=..., tools=<list or None>, documents=None,
add_generation_prompt=..., **special_tokens, **extra_kwargs). One deviation, for reproducible
goldens: strftime_now uses the fixed time 2024-07-26 12:00:00 (the tests pass the same clock).

Templates found in ../shared are refreshed from there first (Qwen3 and ax-code-15m from their
tokenizer_config.json, qwen2/phi-3/gemma-4 from GGUF tokenizer.chat_template metadata); the others
are checked-in copies of the official tokenizer_config.json templates (see the README there).

Output: <template>.goldens.json beside each template: the conversations and tools, then for every
case its inputs (conversation name, whether tools are passed, add_generation_prompt, extra keyword
arguments) and either the expected text or the error jinja2 raised.

Usage: python3 scripts/make_chat_goldens.py
"""
import copy
import datetime
import json
import os
import struct
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "tokenizer", "data", "chat_templates")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models")
FIXED_NOW = datetime.datetime(2024, 7, 26, 12, 0, 0)


# ---- HF's environment ----

class AssistantTracker(jinja2.ext.Extension):
    """HF's {% generation %} tag; outside training-mask mode it just renders its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


# ---- templates from ../shared ----

def gguf_metadata(path):
    """GGUF key/value metadata (the header only; tensors are not read)."""
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        f.read(4)  # version
        _, n_kv = struct.unpack("<QQ", f.read(16))
        scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

        def read_str():
            (n,) = struct.unpack("<Q", f.read(8))
            return f.read(n).decode("utf-8")

        def read_value(t):
            if t == 8:
                return read_str()
            if t == 9:
                (et,) = struct.unpack("<I", f.read(4))
                (n,) = struct.unpack("<Q", f.read(8))
                return [read_value(et) for _ in range(n)]
            fmt = scalar[t]
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

        out = {}
        for _ in range(n_kv):
            key = read_str()
            (t,) = struct.unpack("<I", f.read(4))
            out[key] = read_value(t)
        return out


def refresh_shared_templates():
    sources = {
        "qwen3.jinja": ("json", "qwen3-tokenizer/tokenizer_config.json"),
        "ax-code-chatml.jinja": ("json", "ax-code-15m/tokenizer_config.json"),
        "gguf-qwen2.jinja": ("gguf", "llamacpp-vocab/ggml-vocab-qwen2.gguf"),
        "gguf-phi-3.jinja": ("gguf", "llamacpp-vocab/ggml-vocab-phi-3.gguf"),
        "gguf-gemma-4.jinja": ("gguf", "llamacpp-vocab/ggml-vocab-gemma-4.gguf"),
    }
    for name, (kind, rel) in sources.items():
        path = os.path.join(SHARED, rel)
        if not os.path.exists(path):
            print(f"note: {path} missing, keeping the checked-in {name}", file=sys.stderr)
            continue
        if kind == "json":
            with open(path, encoding="utf-8") as f:
                text = json.load(f)["chat_template"]
        else:
            text = gguf_metadata(path)["tokenizer.chat_template"]
        with open(os.path.join(DATA, name), "w", encoding="utf-8", newline="") as f:
            f.write(text)


# ---- conversations ----

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
            },
            "required": ["city"],
        },
    },
}

SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search_docs",
        "description": "Search the documentation — returns ranked “snippets”.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for"},
                "max_results": {"type": "integer", "description": "How many results", "nullable": True},
                "filters": {
                    "type": "object",
                    "description": "Optional filters",
                    "properties": {"lang": {"type": "string"}, "after": {"type": "number"}},
                    "required": ["lang"],
                },
                "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags to match"},
            },
            "required": ["query"],
        },
    },
}

TOOLS = [WEATHER_TOOL, SEARCH_TOOL]

USER_HELLO = {"role": "user", "content": "Hello!"}
SYSTEM = {"role": "system", "content": "You are a helpful assistant.\nAnswer briefly."}

CONVERSATIONS = {
    "single_user": [USER_HELLO],
    "system_multi_turn": [
        SYSTEM,
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "2+2 = 4."},
        {"role": "user", "content": "And times 3?"},
    ],
    "unicode_and_whitespace": [
        {"role": "user", "content": "  Ünïcödé 你好 🎉 \"double\" 'single' \\backslash\n\ttab  "},
        {"role": "assistant", "content": "\n\nSure — here: ✓  \n"},
        {"role": "user", "content": "{{ not a template }} {% raw %} <|im_end|>"},
    ],
    "tool_call_flow": [
        SYSTEM,
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call0Abc9", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
        {"role": "tool", "tool_call_id": "call0Abc9", "name": "get_weather",
         "content": "{\"temperature\": 21, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 21 °C and clear in Paris."},
    ],
    "parallel_tool_calls": [
        {"role": "user", "content": "Weather in Oslo and Rome, and search the docs for 'units'."},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "callOslo1", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}},
            {"id": "callRome2", "type": "function",
             "function": {"name": "search_docs", "arguments": {"query": "units", "max_results": 3, "tags": ["a", "b"]}}}]},
        {"role": "tool", "tool_call_id": "callOslo1", "content": "-3"},
        {"role": "tool", "tool_call_id": "callRome2", "content": "[\"units.md\"]"},
    ],
    "think_in_content": [
        {"role": "user", "content": "Is 17 prime?"},
        {"role": "assistant", "content": "<think>\nCheck divisors up to 4: none.\n</think>\n\nYes, 17 is prime."},
        {"role": "user", "content": "And 21?"},
    ],
    "reasoning_content_field": [
        SYSTEM,
        {"role": "user", "content": "Pick a colour."},
        {"role": "assistant", "content": "Blue.", "reasoning_content": "The user wants one colour; blue is common."},
        {"role": "user", "content": "Why?"},
        {"role": "assistant", "content": "\n\nBecause it is calm.", "reasoning_content": "\nExplain briefly.\n"},
    ],
    "content_parts": [
        {"role": "user", "content": [{"type": "text", "text": "Describe this picture: "}, {"type": "image"},
                                     {"type": "text", "text": " briefly."}]},
    ],
    "assistant_null_content_tool_call": [
        {"role": "user", "content": "Weather in Lima?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "callLima7", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Lima\"}"}}]},
        {"role": "tool", "tool_call_id": "callLima7", "content": "18"},
    ],
    "roles_not_alternating": [
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
    ],
    "empty_messages": [],
}

# Special tokens as each model's tokenizer defines them (None: the tokenizer has none, so the
# template sees it undefined, as with HF).
TOKENS = {
    "qwen3.jinja": (None, "<|im_end|>"),
    "ax-code-chatml.jinja": ("<|endoftext|>", "<|endoftext|>"),
    "gguf-qwen2.jinja": (None, "<|endoftext|>"),
    "gguf-phi-3.jinja": ("<s>", "<|endoftext|>"),
    "phi-3.5-mini.jinja": ("<s>", "<|endoftext|>"),
    "gguf-gemma-4.jinja": ("<bos>", "<eos>"),
    "gemma-2.jinja": ("<bos>", "<eos>"),
    "gemma-3.jinja": ("<bos>", "<eos>"),
    "llama-3.1.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama-3.2.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "mistral-v0.3.jinja": ("<s>", "</s>"),
    "mistral-nemo-2407.jinja": ("<s>", "</s>"),
    "mistral-small-3.1.jinja": ("<s>", "</s>"),
}

# Template-specific keyword arguments worth covering.
EXTRA_VARIANTS = {
    "qwen3.jinja": [{"enable_thinking": False}, {"enable_thinking": True}],
    "gguf-gemma-4.jinja": [{"enable_thinking": True}],
    "llama-3.1.jinja": [{"builtin_tools": ["brave_search", "wolfram_alpha", "code_interpreter"]},
                        {"tools_in_user_message": False, "date_string": "01 Jan 2025"}],
    "llama-3.2.jinja": [{"tools_in_user_message": False}],
}

TOOL_CONVERSATIONS = {"single_user", "system_multi_turn", "tool_call_flow", "parallel_tool_calls",
                      "assistant_null_content_tool_call"}
BOTH_GEN_PROMPTS = {"single_user", "system_multi_turn", "tool_call_flow", "think_in_content"}


def cases_for(template_name):
    cases = []
    for conv_name, messages in CONVERSATIONS.items():
        gens = [True, False] if conv_name in BOTH_GEN_PROMPTS else [True]
        tool_options = [None, TOOLS] if conv_name in TOOL_CONVERSATIONS else [None]
        extras = [{}] + EXTRA_VARIANTS.get(template_name, [])
        for gen in gens:
            for tools in tool_options:
                for extra in extras:
                    if extra and (tools is None) and conv_name not in ("single_user", "think_in_content",
                                                                       "reasoning_content_field", "tool_call_flow"):
                        continue
                    name = conv_name + ("" if gen else "-nogen") + ("-tools" if tools else "")
                    for k, v in extra.items():
                        name += f"-{k}={json.dumps(v)}"
                    cases.append({"name": name, "conversation": conv_name, "messages": messages, "tools": tools,
                                  "add_generation_prompt": gen, "extra": extra})
    return cases


def render(tpl, template_name, case):
    bos, eos = TOKENS[template_name]
    special = {}
    if bos is not None:
        special["bos_token"] = bos
    if eos is not None:
        special["eos_token"] = eos
    kwargs = dict(special)
    kwargs.update(case["extra"])
    return tpl.render(messages=copy.deepcopy(case["messages"]), tools=copy.deepcopy(case["tools"]),
                      documents=None, add_generation_prompt=case["add_generation_prompt"], **kwargs)


def main():
    refresh_shared_templates()
    env = make_env()
    names = sorted(n for n in os.listdir(DATA) if n.endswith(".jinja"))
    total = errors = 0
    for name in names:
        if name not in TOKENS:
            sys.exit(f"{name}: add its special tokens to TOKENS")
        with open(os.path.join(DATA, name), encoding="utf-8") as f:
            tpl = env.from_string(f.read())
        bos, eos = TOKENS[name]
        out_cases = []
        for case in cases_for(name):
            entry = {"name": case["name"], "conversation": case["conversation"], "tools": case["tools"] is not None,
                     "add_generation_prompt": case["add_generation_prompt"], "extra": case["extra"]}
            try:
                entry["expected"] = render(tpl, name, case)
            except Exception as e:  # the template refused this conversation: the C++ side must too
                entry["error"] = f"{type(e).__name__}: {e}"
                errors += 1
            out_cases.append(entry)
            total += 1
        golden = {"template": name, "bos_token": bos, "eos_token": eos,
                  "strftime_now": FIXED_NOW.isoformat(), "tools": TOOLS,
                  "conversations": CONVERSATIONS, "cases": out_cases}
        stem = name[: -len(".jinja")]
        with open(os.path.join(DATA, stem + ".goldens.json"), "w", encoding="utf-8") as f:
            json.dump(golden, f, ensure_ascii=False, indent=1)
            f.write("\n")
    print(f"wrote {total} cases ({errors} expected errors) for {len(names)} templates to {DATA}")


if __name__ == "__main__":
    main()
