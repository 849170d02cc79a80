"""The keyword options every generation method takes (Engine and Client alike), and the shapes a
prompt may have."""
from __future__ import annotations

from typing import Any, Mapping, TypedDict, Union

# A prompt: text, or token ids.
Prompt = Union[str, list[int]]


class GenerateOptions(TypedDict, total=False):
    max_tokens: int | None  # default: until EOS or the end of the context
    temperature: float  # 0: greedy; default 1
    top_k: int  # 0: off
    top_p: float  # 1: off
    min_p: float  # 0: off
    repetition_penalty: float  # 1: off
    presence_penalty: float
    frequency_penalty: float
    logit_bias: dict[int, float]  # token id -> added to its logit
    seed: int | None  # default: a fresh random seed; the same seed gives the same output
    stop: str | list[str]  # the text ends before the first stop string
    stop_token_ids: list[int]
    ignore_eos: bool
    logprobs: int | None  # None: none; 0: the chosen token's; k: plus the k most likely (<= 20)
    speculation: bool | None  # n-gram speculative decoding for this request (None: the default)
    max_draft: int | None  # draft tokens per step at most (1-31)


OPTION_NAMES = frozenset(GenerateOptions.__annotations__)


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options with unknown names refused (as a function signature would) and stop made a
    list."""
    for name in options:
        if name not in OPTION_NAMES:
            raise TypeError(f"unexpected keyword argument '{name}'")
    out = dict(options)
    if isinstance(out.get("stop"), str):
        out["stop"] = [out["stop"]]
    return out


def is_token_ids(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(
        isinstance(t, int) and not isinstance(t, bool) for t in value)


def split_prompts(prompt: Any) -> tuple[list[Prompt], bool]:
    """(prompts, batched): a str or a list of token ids is one prompt; a list of those is a batch."""
    if isinstance(prompt, str):
        return [prompt], False
    if is_token_ids(prompt):
        return [list(prompt)], False
    if isinstance(prompt, (list, tuple)) and prompt:
        out: list[Prompt] = []
        for i, p in enumerate(prompt):
            if isinstance(p, str):
                out.append(p)
            elif is_token_ids(p):
                out.append(list(p))
            else:
                raise TypeError(f"prompt[{i}] must be a str or a non-empty list of token ids")
        return out, True
    raise TypeError("prompt must be a str, a non-empty list of token ids, or a list of those")


def single_prompt(prompt: Any) -> Prompt:
    """The one prompt stream() takes (a str or a list of token ids)."""
    prompts, batched = split_prompts(prompt)
    if batched:
        raise TypeError("stream() takes one prompt; call it once per prompt")
    return prompts[0]


def shape_results(results: list[Any], details: bool, batched: bool) -> Any:
    """What generate() returns: texts (or the Generation objects with details), one or a list."""
    out = results if details else [g.text for g in results]
    return out if batched else out[0]
