// AxClient against a real `ax-engine serve`: what an application sees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  AxClient, APIConnectionError, APIError, APIUserAbortError, APITimeoutError, GenerationStream,
} from '../../js/dist/index.js';
import { startServer, storiesModel, codeModel } from '../server_js/server.mjs';

let code, stories, ax, axStories;

before(async () => {
  code = await startServer(codeModel);
  stories = await startServer(storiesModel);
  ax = new AxClient({ baseURL: code.base });
  axStories = new AxClient({ baseURL: `${stories.base}/v1` });
});

after(async () => {
  assert.equal(await code.stop(), 0);
  assert.equal(await stories.stop(), 0);
});

const randomSeed = () => Math.floor(Math.random() * 2 ** 31);

async function waitFor(predicate, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return predicate();
}

test('generate: text, token ids, usage, timings; ids in give the same as text in', async () => {
  const g = await ax.generate('def fib(n):', { maxTokens: 12, temperature: 0, ignoreEos: true });
  assert.equal(g.finishReason, 'length');
  assert.equal(g.tokenIds.length, 12);
  assert.equal(g.usage.completionTokens, 12);
  assert.equal(await ax.detokenize(g.tokenIds), g.text);
  assert.ok(g.timings.totalMs >= g.timings.ttftMs && g.timings.ttftMs > 0);
  const { tokens } = await ax.tokenize('def fib(n):');
  assert.equal(g.usage.promptTokens, tokens.length);
  const fromIds = await ax.generate(tokens, { maxTokens: 12, temperature: 0, ignoreEos: true });
  assert.deepEqual(fromIds.tokenIds, g.tokenIds);
});

test('stream: async iteration gives the blocking output for the same seed, then finish, usage, timings', async () => {
  const seed = randomSeed();
  const opts = { maxTokens: 24, temperature: 0.9, seed, ignoreEos: true, logprobs: 2 };
  const blocking = await ax.generate('class Stack:\n', opts);
  const stream = await ax.stream('class Stack:\n', opts);
  assert.ok(stream instanceof GenerationStream);
  const ids = [];
  let text = '';
  for await (const chunk of stream) {
    ids.push(...chunk.tokenIds);
    text += chunk.text;
    assert.equal(chunk.logprobs.length, chunk.tokenIds.length);
    assert.ok(chunk.logprobs.every((lp) => lp.top.length === 2));
  }
  assert.deepEqual(ids, blocking.tokenIds, `seed ${seed}`);
  assert.equal(text, blocking.text);
  assert.equal(stream.finishReason, 'length');
  assert.equal(stream.usage.completionTokens, 24);
  assert.ok(stream.timings.totalMs > 0);
  assert.deepEqual(blocking.logprobs.map((l) => l.token), blocking.tokenIds);
});

test('chat: messages rendered as chat completions renders them (same reply for the same seed)', async () => {
  const seed = randomSeed();
  const messages = [{ role: 'system', content: 'Python only.' }, { role: 'user', content: 'def add(a, b):' }];
  const r = await fetch(`${code.base}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages, max_tokens: 20, seed, temperature: 0.8 }),
  }).then((res) => res.json());
  const g = await ax.chat(messages, { maxTokens: 20, seed, temperature: 0.8 });
  assert.equal(g.text, r.choices[0].message.content, `seed ${seed}`);
  assert.equal(g.usage.promptTokens, r.usage.prompt_tokens);
  const streamed = await (await ax.chatStream(messages, { maxTokens: 20, seed, temperature: 0.8 })).text();
  assert.equal(streamed, g.text);
});

test('tokenizer and chat template routes', async () => {
  const text = 'def f(x):\n    return x * 2  # ünïcode';
  const t = await ax.tokenize(text, { addSpecial: false });
  assert.equal(t.count, t.tokens.length);
  assert.ok(t.maxModelLen > 0);
  assert.equal(await ax.detokenize(t.tokens), text);
  const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'def f():' }];
  const prompt = await ax.applyTemplate(messages);
  assert.equal(prompt, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\ndef f():<|im_end|>\n<|im_start|>assistant\n');
  assert.equal(await ax.applyTemplate(messages, { addGenerationPrompt: false }),
               '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\ndef f():<|im_end|>\n');
  const chatTokens = await ax.tokenize(messages);
  assert.equal(await ax.detokenize(chatTokens.tokens), prompt);
});

test('metrics parsed; health; models', async () => {
  await ax.generate('import os\n', { maxTokens: 4 });
  const m = await ax.metrics();
  assert.equal(m.types.ax_requests_running, 'gauge');
  assert.ok(m.get('ax_kv_blocks_total') > 0);
  assert.ok(m.get('ax_engine_generated_tokens_total') >= 4);
  assert.ok(m.sum('ax_http_requests_total', { route: '/v1/generate' }) >= 1);
  assert.equal(await ax.health(), 'ok');
  const models = await ax.models();
  assert.deepEqual(models.map((c) => c.id), ['ax-code-15m']);
  assert.ok(models[0].maxModelLen > 0);
});

test('errors are typed: APIError with the parameter, connection, abort, timeout', async () => {
  await assert.rejects(ax.generate('x', { temperature: 5 }), (e) => {
    assert.ok(e instanceof APIError);
    assert.equal(e.status, 400);
    assert.equal(e.param, 'temperature');
    assert.match(e.message, /temperature/);
    return true;
  });
  await assert.rejects(ax.stream('x', { maxTokens: 10 ** 6 }), (e) => e instanceof APIError && e.code === 'context_length_exceeded');
  await assert.rejects(axStories.chat([{ role: 'user', content: 'hi' }]), (e) => e instanceof APIError && e.param === 'messages');
  await assert.rejects(new AxClient({ baseURL: 'http://127.0.0.1:9' }).health(), APIConnectionError);
  const controller = new AbortController();
  const stream = await ax.stream('import', { maxTokens: 2000, ignoreEos: true, signal: controller.signal });
  await assert.rejects(async () => {
    let n = 0;
    for await (const _ of stream) if (++n === 2) controller.abort();
  }, APIUserAbortError);
  // A server that answers nothing within the timeout: a bare socket that accepts and stays silent.
  const net = await import('node:net');
  const silent = net.createServer(() => {}).listen(0, '127.0.0.1');
  await new Promise((r) => silent.once('listening', r));
  try {
    const slow = new AxClient({ baseURL: `http://127.0.0.1:${silent.address().port}`, timeoutMs: 300 });
    await assert.rejects(slow.tokenize('x'), APITimeoutError);
  } finally {
    silent.close();
    silent.unref();
  }
});

test('leaving a stream early cancels the request on the server; info and requests', async () => {
  const info = await ax.info();
  assert.equal(info.model.id, 'ax-code-15m');
  assert.equal(info.engine.max_context, (await ax.models())[0].maxModelLen);
  const stream = await ax.stream('import', { maxTokens: 2000, ignoreEos: true });
  let n = 0;
  for await (const _ of stream) {
    if (++n < 3) continue;
    // While it runs the server lists it.
    const running = await ax.requests();
    assert.equal(running.length, 1);
    assert.equal(running[0].route, '/v1/generate/stream');
    assert.ok(running[0].completionTokens >= 1 && running[0].ttftS > 0);
    break;
  }
  assert.ok(await waitFor(async () => (await ax.metrics()).get('ax_kv_blocks_used') === 0), 'KV blocks still held');
  assert.equal((await ax.metrics()).get('ax_requests_running'), 0);
  assert.ok(await waitFor(async () => (await ax.requests()).length === 0), 'the request is still listed');
  await assert.rejects(async () => { for await (const _ of stream); }, /only once/);
});

test('an API key is sent as a bearer token', async () => {
  const guarded = await startServer(storiesModel, ['--api-key', 'k-123']);
  try {
    const bad = new AxClient({ baseURL: guarded.base, apiKey: 'wrong' });
    await assert.rejects(bad.tokenize('x'), (e) => e instanceof APIError && e.status === 401 && e.code === 'invalid_api_key');
    const good = new AxClient({ baseURL: guarded.base, apiKey: 'k-123' });
    assert.ok((await good.tokenize('Once')).count > 0);
    assert.equal(await bad.health(), 'ok');  // /health is open, as for load balancers
  } finally {
    assert.equal(await guarded.stop(), 0);
  }
});
