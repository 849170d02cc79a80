// The client's parsers and request mapping, without a server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateBody, parseMetrics } from '../../js/dist/index.js';
import { sseData } from '../../js/dist/sse.js';

function bodyOf(pieces) {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const p of pieces) controller.enqueue(typeof p === 'string' ? encoder.encode(p) : p);
      controller.close();
    },
  });
}

async function collect(iterable) {
  const out = [];
  for await (const x of iterable) out.push(x);
  return out;
}

test('SSE: data payloads across arbitrary chunk cuts, comments skipped, [DONE] ends it', async () => {
  const text = ': keep-alive\n\ndata: {"text":"é"}\r\n\r\ndata: a\ndata: b\n\nevent: x\ndata: [DONE]\n\ndata: after\n\n';
  const bytes = new TextEncoder().encode(text);
  const whole = await collect(sseData(bodyOf([bytes])));
  assert.deepEqual(whole, ['{"text":"é"}', 'a\nb']);
  // Every cut, including one inside the two bytes of "é", gives the same payloads.
  for (let cut = 1; cut < bytes.length; cut++) {
    assert.deepEqual(await collect(sseData(bodyOf([bytes.slice(0, cut), bytes.slice(cut)]))), whole, `cut ${cut}`);
  }
  // An event the end of the body cuts off is not delivered (the SSE spec's rule).
  assert.deepEqual(await collect(sseData(bodyOf(['data: 1\n\ndata: cut\n']))), ['1']);
});

test('metrics: samples with labels, escapes, special values, types and help', () => {
  const m = parseMetrics([
    '# HELP ax_requests_running Sequences in the running batch.',
    '# TYPE ax_requests_running gauge',
    'ax_requests_running 2',
    'ax_http_requests_total{route="/health",status="200"} 3',
    'ax_http_requests_total{route="/v1/generate",status="400"} 1 1700000000000',
    'odd{path="a \\"q\\" \\\\ b",n="x\\ny"} +Inf',
    'ax_ttft_seconds_bucket{le="0.5"} 7',
    '',
  ].join('\n'));
  assert.equal(m.get('ax_requests_running'), 2);
  assert.equal(m.types.ax_requests_running, 'gauge');
  assert.equal(m.help.ax_requests_running, 'Sequences in the running batch.');
  assert.equal(m.get('ax_http_requests_total', { route: '/v1/generate' }), 1);
  assert.equal(m.sum('ax_http_requests_total'), 4);
  assert.deepEqual(m.all('odd')[0].labels, { path: 'a "q" \\ b', n: 'x\ny' });
  assert.equal(m.get('odd'), Infinity);
  assert.equal(m.get('ax_ttft_seconds_bucket', { le: '0.5' }), 7);
  assert.equal(m.get('missing'), undefined);
  assert.throws(() => parseMetrics('ax_x{le="1} 2'), /metrics line 1/);
  assert.throws(() => parseMetrics('ax_x twelve'), /metrics line 1 .*not a sample value/);
});

test('options map to the /v1/generate fields', () => {
  assert.deepEqual(generateBody({}), {});
  assert.deepEqual(
    generateBody({ maxTokens: 5, temperature: 0, topK: 3, seed: 9, logitBias: { 7: -100 }, stop: ['\n'],
                   stopTokenIds: [2], ignoreEos: true, logprobs: 2, speculation: false, maxDraft: 4,
                   chatTemplateKwargs: { enable_thinking: false } }),
    { sampling: { temperature: 0, top_k: 3, seed: 9, logit_bias: { 7: -100 } }, max_output_tokens: 5, stop: ['\n'],
      stop_token_ids: [2], ignore_eos: true, logprobs: true, top_logprobs: 2,
      speculation: { mode: 'off', max_draft: 4 }, chat_template_kwargs: { enable_thinking: false } });
});
