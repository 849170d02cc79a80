"""ax_engine.Client: the same methods as Engine, over HTTP to a real `ax-engine serve`."""
from __future__ import annotations

import time

import pytest

from ax_engine import APIConnectionError, APIError, Client, Generation
from ax_engine.client import generate_body, parse_prometheus


def kv_blocks_used(client: Client) -> float:
    return client.metrics()["ax_kv_blocks_used"]


def test_generate_and_batch(code_client):
    g = code_client.generate("def fib(n):", max_tokens=10, temperature=0, ignore_eos=True, details=True)
    assert isinstance(g, Generation) and len(g.token_ids) == 10 and g.finish_reason == "length"
    assert g.usage.prompt_tokens > 0 and g.timings.total_s > 0
    batch = code_client.generate(["def fib(n):", "import os\n", code_client.tokenize("def fib(n):")],
                                 max_tokens=10, temperature=0, ignore_eos=True)
    assert batch[0] == batch[2] == g.text and len(batch) == 3


def test_stop_strings_end_the_text(code_client):
    full = code_client.generate("def fib(n):", max_tokens=40, temperature=0, ignore_eos=True)
    stop = full[len(full) // 2:len(full) // 2 + 3]
    cut = code_client.generate("def fib(n):", max_tokens=40, temperature=0, ignore_eos=True, stop=stop, details=True)
    assert cut.finish_reason == "stop" and cut.text == full[:full.index(stop)]


def test_errors_name_the_parameter(code_client):
    with pytest.raises(APIError) as e:
        code_client.generate("x", temperature=5)
    assert e.value.status_code == 400 and e.value.param == "temperature" and "temperature" in str(e.value)
    with pytest.raises(APIError) as e:
        code_client.generate("x", max_tokens=10**6)
    assert e.value.code == "context_length_exceeded"
    with pytest.raises(APIConnectionError):
        Client("http://127.0.0.1:9", timeout=5).tokenize("x")


def test_leaving_a_stream_cancels_it_on_the_server(code_client):
    with code_client.stream("import", max_tokens=1500, ignore_eos=True) as s:
        for i, _ in enumerate(s):
            if i == 3:
                break
    deadline = time.time() + 10
    while kv_blocks_used(code_client) > 0 and time.time() < deadline:
        time.sleep(0.05)
    assert kv_blocks_used(code_client) == 0
    assert code_client.health() == "ok"


def test_request_bodies_and_metrics_text():
    assert generate_body({"max_tokens": 5, "temperature": 0, "seed": 3, "logit_bias": {7: -100}, "stop": ["\n"],
                          "logprobs": 2, "speculation": False, "max_draft": 4}) == {
        "max_output_tokens": 5, "sampling": {"temperature": 0, "seed": 3, "logit_bias": {"7": -100}},
        "stop": ["\n"], "logprobs": True, "top_logprobs": 2, "speculation": {"mode": "off", "max_draft": 4}}
    text = ('# HELP ax_x X.\n# TYPE ax_x gauge\nax_x 1.5\n'
            'ax_http_requests_total{route="/health",status="200"} 3\nax_t_bucket{le="+Inf"} 2\n')
    assert parse_prometheus(text) == {"ax_x": 1.5, 'ax_http_requests_total{route="/health",status="200"}': 3.0,
                                      'ax_t_bucket{le="+Inf"}': 2.0}
