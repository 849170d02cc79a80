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

It also renders FEATURES, one snippet per interpreter feature (whitespace control, loops, macros,
filters, tests, methods, printing, errors), into jinja_features.json for
tests/tokenizer/jinja_features_test.cpp.

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
    "glm-4.6.jinja": (None, "<|endoftext|>"),
    "deepseek-v3.1.jinja": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "command-r7b-tool-use.jinja": ("<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"),
}

# Template-specific keyword arguments worth covering.
EXTRA_VARIANTS = {
    "qwen3.jinja": [{"enable_thinking": False}, {"enable_thinking": True}],
    "gguf-gemma-4.jinja": [{"enable_thinking": True}],
    "llama-3.1.jinja": [{"builtin_tools": ["brave_search", "wolfram_alpha", "code_interpreter"]},
                        {"tools_in_user_message": False, "date_string": "01 Jan 2025"}],
    "llama-3.2.jinja": [{"tools_in_user_message": False}],
    "glm-4.6.jinja": [{"enable_thinking": False}],
    "deepseek-v3.1.jinja": [{"thinking": True}],
    "command-r7b-tool-use.jinja": [{"enable_citations": True}],
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


# ---- interpreter features, one snippet each (jinja_features.json) ----

FEATURE_CONTEXT = {
    "n": 7, "neg": -3, "f": 2.5, "big": 12345678901234, "t": True, "no": False, "nothing": None,
    "s": "Hello, World", "u": "héllo wörld ✓ 你好", "ws": "  \t padded \n ", "empty": "", "csv": "a,b,,c",
    "xs": [3, 1, 2], "words": ["b", "A", "a", "C"], "nested": [[1, 2], [3, 4]],
    "d": {"b": 1, "a": 2, "items": "not the method"}, "dd": {"b": 1, "a": 2, "C": 0},
    "users": [{"name": "ann", "age": 31, "admin": True}, {"name": "bob", "age": 25, "admin": False},
              {"name": "cy", "age": 31}],
    "msg": {"role": "user", "content": "hi", "tool_calls": None},
}

FEATURES = [
    # whitespace control, trim_blocks / lstrip_blocks, comments, raw
    "a\n  {% if t %}\n  x\n  {% endif %}\nb\n",
    "  {% if t %}x{% endif %}  \n",
    "a  {{ 1 }}  {% if t %}  y {%+ if t %}z{% endif %}{% endif %}",
    "{% raw %}\n  {{ x }}\n  {% endraw %}\nq",
    "{# c #}\nx{#- c -#}  y",
    "x\r\ny\rz\n\n",
    "  {%- if t -%}  \n  a  \n  {%- endif -%}  \n  b",
    "{{- '  x  ' -}}   {{ 'y' }}\n   {{- 'z' }}",
    "line\n    {% for i in xs %}\n    {{ i }}\n    {% endfor %}\nend",
    "{% if t %}\n{% endif %}  ",
    "{%+ if t %}x{% endif +%}\ny",
    "a\x0cb\u2028c\r\nd\re  \u3000{%- if t -%}\u3000 x \xa0{%- endif %}\n\n",
    "{% raw -%}  {{ x }}\n\r\n{%- endraw %}|{%- raw %} r {% endraw -%} |",
    # literals and escapes
    "{{ 'a\\nb' }}|{{ \"q\\\"q\" }}|{{ 'a\\u00e9b' }}|{{ '\\x41' }}|{{ 'a\\qb' }}|{{ 'tab\\there' }}",
    "{{ 'a' 'b' \"c\" }}",
    "{{ 0x1F }} {{ 1_000 }} {{ 1.5e3 }} {{ 0b11 }} {{ 0o17 }} {{ 1e-7 }} {{ 10.0 }}",
    "{{ 1e999 }} {{ -1e999 }} {{ 1e-400 }} {{ 1e999 > 5 }}",
    "{{ [1, 'a', none, true, {'k': 'v'}, (1,), ()] }}",
    "{{ {'a': {'b': [1, 2]}} }}",
    "{{ none }}|{{ True }}|{{ false }}|{{ None }}",
    # arithmetic and operators
    "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }}",
    "{{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 10 / 4 }} {{ 0.1 + 0.2 }} {{ 1e20 * 10 }} {{ f * 2 }} {{ n - f }}",
    "{{ 'ab' ~ 1 ~ none ~ f }}|{{ 'ab' * 3 }}|{{ [1] * 3 }}|{{ [1, 2] + [3] }}|{{ 'x' + 'y' }}",
    "{{ true + 1 }} {{ n + true }} {{ -n }} {{ +n }} {{ not n }} {{ not empty }}",
    "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }}",
    "{{ 'ell' in s }} {{ 2 in xs }} {{ 'a' in d }} {{ 'z' not in d }} {{ 5 not in xs }}",
    "{{ n and s }}|{{ empty and s }}|{{ empty or 'fallback' }}|{{ nothing or 0 }}|{{ n or s }}",
    "{{ 'yes' if t else 'no' }}|{{ 'yes' if no else 'no' }}|{{ 'x' if no }}|{{ 1 if no else 2 if t else 3 }}",
    # attribute / subscript / slicing
    "{{ msg.role }} {{ msg['content'] }} {{ users[0].name }} {{ users[-1]['age'] }} {{ nested[1][0] }} {{ xs.1 }}",
    "{{ d['items'] }}|{{ msg.missing }}|{{ msg['missing'] }}|{{ xs[10] }}|{{ s.nope }}",
    "{{ s[0] }} {{ s[-1] }} {{ s[1:4] }} {{ s[::-1] }} {{ s[::2] }} {{ s[-5:] }} {{ s[:-7] }} {{ u[1:5] }} {{ u[::-1] }}",
    "{{ xs[1:] }} {{ xs[::-1] }} {{ xs[5:] }} {{ xs[-2:-1] }} {{ xs[:0] }} {{ xs[::-2] }}",
    # tests
    "{{ n is defined }} {{ zz is defined }} {{ zz is undefined }} {{ nothing is none }} {{ n is not none }}",
    "{{ s is string }} {{ n is string }} {{ n is number }} {{ f is number }} {{ t is number }} {{ n is integer }} {{ f is float }} {{ t is integer }}",
    "{{ d is mapping }} {{ xs is mapping }} {{ xs is iterable }} {{ s is iterable }} {{ n is iterable }} {{ s is sequence }} {{ d is sequence }}",
    "{{ t is boolean }} {{ t is true }} {{ no is false }} {{ 1 is true }} {{ n is odd }} {{ n is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }}",
    "{{ n is eq 7 }} {{ n is equalto 8 }} {{ n is ne 7 }} {{ n is lt 8 }} {{ n is gt 8 }} {{ n is ge 7 }} {{ n is le 6 }} {{ 2 is in xs }}",
    "{{ nothing is sameas none }} {{ t is sameas true }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ range is callable }}",
    # filters
    "{{ xs | length }} {{ s | length }} {{ u | length }} {{ d | length }} {{ zz | length }} {{ xs | count }}",
    "[{{ ws | trim }}]|[{{ 'xxaxx' | trim('x') }}]|{{ s | upper }}|{{ s | lower }}|{{ u | upper }}|{{ 'hello-world foo(bar' | title }}|{{ 'hELLO wORLD' | capitalize }}",
    "{{ s | replace('l', 'L') }}|{{ s | replace('l', 'L', 2) }}|{{ 'aaa' | replace('', '-') }}",
    "{{ xs | join(', ') }}|{{ xs | join }}|{{ users | join('/', attribute='name') }}|{{ u | list }}",
    "{{ zz | default('dflt') }}|{{ empty | default('dflt') }}|{{ empty | default('dflt', true) }}|{{ nothing | d('x') }}|{{ nothing | d('x', boolean=true) }}",
    "{{ xs | first }} {{ xs | last }} {{ s | first }} {{ [] | first }}|{{ d | first }} {{ d | list }}",
    "{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(5) }} {{ 3.9 | int }} {{ '0x1A' | int(0, 16) }} {{ '3.5' | float }} {{ 'a' | float }} {{ n | float }}",
    "{{ neg | abs }} {{ -2.5 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.567 | round(2) }} {{ 2.5 | round(0, 'floor') }} {{ 2.1 | round(0, 'ceil') }} {{ 1234 | round(-2) }}",
    "{{ d | items | list }} {{ dd | dictsort }} {{ dd | dictsort(reverse=true) }} {{ dd | dictsort(by='value') }} {{ dd | dictsort(true) }}",
    "{{ xs | sort }} {{ xs | sort(reverse=true) }} {{ words | sort }} {{ words | sort(case_sensitive=true) }} {{ users | sort(attribute='age') | map(attribute='name') | list }}",
    "{{ words | unique | list }} {{ words | unique(case_sensitive=true) | list }} {{ xs | reverse | list }} {{ s | reverse }}",
    "{{ users | map(attribute='name') | list }} {{ words | map('upper') | list }} {{ users | map(attribute='admin', default='?') | list }}",
    "{{ users | selectattr('admin') | map(attribute='name') | list }} {{ users | rejectattr('admin') | map(attribute='name') | list }}",
    "{{ users | selectattr('age', 'equalto', 31) | map(attribute='name') | join(',') }} {{ xs | select('odd') | list }} {{ xs | reject('odd') | list }} {{ [0, 1, '', 'a'] | select | list }}",
    "{{ users | selectattr('admin', 'defined') | list | length }} {{ users | map(attribute='age') | sum }} {{ xs | max }} {{ xs | min }} {{ words | max }} {{ users | max(attribute='age') }}",
    "{{ 'abc' | indent(2) }}|{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent('> ', blank=true) }}",
    "{{ '%s-%d-%05.1f-%x' | format('a', 3, 2.25, 255) }}|{{ '{}, {name}!'.format('Hi', name='Bo') }}|{{ '%s' % 'pct' }}",
    "{{ '{:<x}'.format(1) }} {{ '{:>5d}'.format(7) }}",
    "{{ '{99999999999999999999999}'.format(1) }}",
    "{{ '%99999999999999999999999s' % 'a' }}",
    "{{ '%.99999999999999999999999s' % 'abc' }}",
    "{{ 'abc' | center(9) }}|{{ 'a b c' | wordcount }}|{{ '<a href=\"x\">&' | escape }}|{{ s | safe }}|{{ xs | batch(2) | list }}|{{ xs | batch(2, 0) | list }}",
    "{{ 'a long sentence here' | truncate(9) }}|{{ 'a long sentence here' | truncate(9, true) }}|{{ s | string }}|{{ xs | string }}|{{ nothing | string }}",
    "{{ msg | attr('role') }}|{{ s | attr('upper') is callable }}",
    # tojson as HF defines it
    "{{ users | tojson }}",
    "{{ users[0] | tojson(indent=2) }}",
    "{{ d | tojson(sort_keys=true) }}|{{ xs | tojson(separators=(',', ':')) }}|{{ u | tojson }}|{{ u | tojson(ensure_ascii=true) }}",
    "{{ [1.0, 2.5e-10, 1e22, -0.0, nothing, t, 'q\"\\\\\\n\\t\\u0001'] | tojson }}|{{ [] | tojson(indent=2) }}|{{ {} | tojson(indent=2) }}|{{ [[]] | tojson(indent=1) }}",
    "{{ nested | tojson(indent='\\t') }}",
    # string methods
    "{{ s.startswith('Hell') }} {{ s.startswith(('x', 'He')) }} {{ s.endswith('ld') }} {{ s.startswith('World', 7) }}",
    "[{{ ws.strip() }}][{{ ws.lstrip() }}][{{ ws.rstrip() }}][{{ 'xxaxx'.strip('x') }}][{{ '\\n\\nab\\n'.lstrip('\\n') }}]",
    "{{ csv.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a b c'.rsplit(' ', 1) }} {{ 'a b c'.rsplit(None, 1) }} {{ s.split('o') }}",
    "{{ s.upper() }} {{ s.lower() }} {{ 'hello wORLD'.title() }} {{ \"they're bill's\".title() }} {{ 'hELLO'.capitalize() }} {{ s.replace('o', '0') }} {{ s.replace('o', '0', 1) }}",
    "{{ s.find('o') }} {{ s.find('z') }} {{ u.find('w') }} {{ s.rfind('o') }} {{ s.count('l') }} {{ '-'.join(['a', 'b']) }} {{ 'a\\nb\\r\\nc'.splitlines() }}",
    "{{ '123'.isdigit() }} {{ 'a1'.isdigit() }} {{ '  '.isspace() }} {{ 'abc'.isalpha() }} {{ 'ABC'.isupper() }} {{ 'abc'.islower() }} {{ s.removeprefix('Hello') }} {{ s.removesuffix('World') }}",
    # dict and list methods
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{{ d.keys() | list }}|{{ d.values() | list }}|{{ d.get('a') }}|{{ d.get('zz') }}|{{ d.get('zz', 0) }}",
    "{{ xs.index(2) }} {{ xs.count(3) }} {{ msg.get('role') }}",
    # loops
    "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
    "{% for x in xs %}[{{ loop.previtem }}|{{ loop.nextitem }}]{% endfor %}",
    "{% for x in xs if x > 1 %}{{ loop.index }}/{{ loop.length }}:{{ x }} {% else %}none{% endfor %}",
    "{% for x in [] %}a{% else %}empty{% endfor %}|{% for x in zz %}a{% else %}undef-empty{% endfor %}",
    "{% for k in d %}{{ k }}{% endfor %}|{% for c in 'héllo' %}{{ c }}.{% endfor %}",
    "{% for a, b in nested %}{{ a + b }} {% endfor %}{% for (a, b) in d | dictsort %}{{ a }}{{ b }}{% endfor %}",
    "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% for row in nested %}{% for x in row %}{{ loop.index }}{{ x }}{% endfor %}:{{ loop.index }} {% endfor %}",
    "{% for x in xs %}{{ loop.cycle('odd', 'even') }} {% endfor %}",
    "{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }} {{ range(0) | list }}",
    # scoping: set in loops does not leak; namespace does
    "{% set x = 5 %}{% for i in [1, 2] %}[{{ x }}]{% set x = i %}{% endfor %}{{ x }}",
    "{% for i in [1, 2] %}{% if i == 2 %}[{{ y }}]{% endif %}{% set y = i %}{% endfor %}",
    "{% set ns = namespace(total=0, names=[]) %}{% for u in users %}{% set ns.total = ns.total + u.age %}{% set ns.names = ns.names + [u.name] %}{% endfor %}{{ ns.total }} {{ ns.names }}",
    "{% set ns = namespace() %}{% set ns.a = 1 %}{{ ns.a }}|{% set ns2 = namespace(d) %}{{ ns2.a }}",
    "{% if t %}{% set inner = 'leaks from if' %}{% endif %}{{ inner }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set c = (3, 4) %}{{ c }}|{% set e = 1, %}{{ e }}",
    "{% set block %}  block {{ n }}\n{% endset %}[{{ block }}]|{% set up | upper %}shout{% endset %}{{ up }}",
    "{% set x = 1 %}{% macro m() %}{% set x = x + 1 %}{{ x }}{% endmacro %}{{ m() }}{{ x }}",
    "{% for i in [1, 2] %}{% set x = i %}{% for j in [3] %}{{ x }}{% set x = j %}{{ x }}{% endfor %}{{ x }}{% endfor %}",
    "{% set msgs = [1, 2, 3] %}{% for m in msgs %}{% if loop.first %}{% set msgs = [9] %}{% endif %}{{ m }}{{ msgs }}{% endfor %}{{ msgs }}",
    "{% set x = 5 %}{% with x = x + 1 %}{{ x }}{% endwith %}{{ x }}|{% with %}{% set z = 1 %}{% endwith %}{{ z }}",
    # macros
    "{% macro m(a, b=2, c='c') %}{{ a }}-{{ b }}-{{ c }}{% endmacro %}{{ m(1) }} {{ m(1, 3) }} {{ m(1, c='z') }} {{ m(a=0) }}",
    "{% macro m(a) %}[{{ a }}|{{ varargs }}|{{ kwargs }}]{% endmacro %}{{ m(1, 2, 3, k=4) }}",
    "{% macro m() %}{{ x }}{% endmacro %}{% set x = 'late' %}{{ m() }}",
    "{% macro fact(k) %}{% if k <= 1 %}1{% else %}{{ k * (fact(k - 1) | int) }}{% endif %}{% endmacro %}{{ fact(6) }}",
    "{% macro outer() %}<{{ caller() }}>{% endmacro %}{% call outer() %}inside {{ n }}{% endcall %}",
    "{% macro list_it(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(item) list_it(xs) %}({{ item }}){% endcall %}",
    "{% macro m(a) %}[{{ a }}]{% endmacro %}{{ m() }}|{{ m is callable }}",
    # other statements
    "{% filter upper %}abc {{ s }}{% endfilter %}",
    "{% with a = 1, b = n %}{{ a + b }}{% endwith %}{{ a }}",
    "{% generation %}gen {{ n }}{% endgeneration %}",
    "{{ dict(a=1, b=2) }} {{ dict([('x', 1)]) }} {{ dict(d, z=0) | length }}",
    "{% set j = joiner('; ') %}{% for x in xs %}{{ j() }}{{ x }}{% endfor %}",
    # printing values
    "{{ xs }} {{ d }} {{ nested }} {{ (1, 'a') }} {{ f }} {{ big }} {{ 1e16 }} {{ 1.5e-5 }} {{ 123456789.125 }} {{ nothing }} {{ zz }}",
    "{{ ['it\\'s', \"q\\\"\", 'both\\'\"', 'nl\\n', 'ü', '\\u00a0', '\\x7f'] }}",
    # generators (map/select/... results): always true, no len(), lazy errors
    "{{ 'yes' if (xs | select('gt', 100)) else 'no' }}|{{ (xs | select('gt', 100) | list) | length }}|{{ xs | map('string') | join('-') }}",
    "{{ (nothing | select('odd') | list) }}|{{ 'ok' if n | map('upper') else 'no' }}|{{ 'empty' if not (d | items) else 'items' }}",
    # unknown filters/tests only fail when reached inside if / conditional expressions
    "{% if no %}{{ xs | from_json }}{% endif %}{{ 'a' if t else (xs | nofilter) }}{% if no and n is sometest %}x{% endif %}ok",
    "{% if t %}{{ xs | from_json }}{% endif %}",
    # Python corner cases
    "{{ xs | reverse | list }} {{ 'yes' if [] | reverse else 'no' }} {% for x in xs | reverse %}{{ x }}{% endfor %} {{ (xs | reverse | list)[0] }}",
    "{{ 0.1 is odd }} {{ 3.0 is odd }} {{ 4.5 is even }} {{ 7.5 is divisibleby 2.5 }} {{ 1e3 % -f }} {{ -7.5 % 2 }}",
    "{{ zz is callable }} {{ zz is sequence }} {{ zz not in msg }} {{ 'a' % xs }} {{ '%(role)s!' % msg }} {{ '%s' % zz }}|",
    "{% if 1 if t else 2 %}x{% endif %}",
    # errors (jinja2 raises; so must we)
    "{{ 'a' + 1 }}",
    "{{ zz.attr }}",
    "{{ zz + 1 }}",
    "{{ xs.append(4) }}",
    "{{ 1 / 0 }}",
    "{{ 5 % 0 }}",
    "{% for a, b in [[1, 2], [3]] %}{{ a }}{% endfor %}",
    "{{ range(200000) | length }}",
    "{{ raise_exception('custom failure') }}",
    "{{ nothing | tojson }}{{ zz | tojson }}",
    "{% set x.y = 1 %}",
    "{{ n | nofilter }}",
    "{% if t %}unclosed",
    "{{ n is notatest }}",
    "{{ 'unterminated }}",
    "{% for x in n %}{% endfor %}",
    "{{ undefined_fn() }}",
    "{{ s[1:2:0] }}",
    "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}",
    "{{ xs | sort(attribute='nope') }}{{ [1, 'a'] | sort }}",
]


def write_feature_goldens():
    env = make_env()
    cases = []
    for src in FEATURES:
        entry = {"template": src}
        try:
            entry["expected"] = env.from_string(src).render(**copy.deepcopy(FEATURE_CONTEXT))
        except Exception as e:
            entry["error"] = f"{type(e).__name__}: {e}"
        cases.append(entry)
    with open(os.path.join(DATA, "jinja_features.json"), "w", encoding="utf-8") as f:
        json.dump({"context": FEATURE_CONTEXT, "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    return len(cases)


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
    print(f"wrote {write_feature_goldens()} interpreter feature cases to jinja_features.json")


if __name__ == "__main__":
    main()
