// ax-engine serve through the official `ollama` npm client: what an application built on Ollama's
// API sees (chat, generate, streaming, structured output, embeddings, list, show, ps, version,
// errors as the client's ResponseError).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import { startServer, codeModel } from './server.mjs';

let code, ollama;

before(async () => {
  code = await startServer(codeModel, ['--alias', 'coder']);
  ollama = new Ollama({ host: code.base });
});

after(async () => {
  assert.equal(await code.stop(), 0);
});

const greedy = { temperature: 0, num_predict: 12 };

test('chat, blocking', async () => {
  const r = await ollama.chat({
    model: 'ax-code-15m',
    messages: [{ role: 'system', content: 'Python only.' }, { role: 'user', content: 'def fib(n):' }],
    options: greedy,
  });
  assert.equal(r.model, 'ax-code-15m');
  assert.equal(r.message.role, 'assistant');
  assert.equal(typeof r.message.content, 'string');
  assert.equal(r.done, true);
  assert.ok(['stop', 'length'].includes(r.done_reason));
  assert.ok(r.eval_count >= 1 && r.eval_count <= 12);
  assert.ok(r.prompt_eval_count > 0);
  assert.ok(r.total_duration > 0 && r.eval_duration >= 0 && r.prompt_eval_duration >= 0);
});

test('chat, streamed: the parts add up to the blocking reply', async () => {
  const request = { model: 'coder', messages: [{ role: 'user', content: 'import os\n' }], options: greedy };
  const blocking = await ollama.chat(request);
  const stream = await ollama.chat({ ...request, stream: true });
  let text = '';
  let last;
  for await (const part of stream) {
    text += part.message.content;
    last = part;
  }
  assert.equal(text, blocking.message.content);
  assert.equal(last.done, true);
  assert.equal(last.eval_count, blocking.eval_count);
});

test('generate, blocking and streamed, with context', async () => {
  const first = await ollama.generate({ model: 'ax-code-15m:latest', prompt: 'def add(a, b):', options: greedy });
  assert.equal(first.done, true);
  assert.ok(Array.isArray(first.context) && first.context.length > first.prompt_eval_count);
  let text = '';
  for await (const part of await ollama.generate({ model: 'ax-code-15m', prompt: 'def add(a, b):', options: greedy, stream: true }))
    text += part.response;
  assert.equal(text, first.response);
  const next = await ollama.generate({ model: 'ax-code-15m', prompt: 'def sub(a, b):', context: first.context, options: greedy });
  assert.ok(next.prompt_eval_count > first.context.length);
});

test('format: a JSON schema is honored', async () => {
  const schema = {
    type: 'object',
    properties: { name: { type: 'string', maxLength: 8 }, age: { type: 'integer', minimum: 0, maximum: 120 } },
    required: ['name', 'age'],
  };
  const r = await ollama.chat({
    model: 'ax-code-15m',
    messages: [{ role: 'user', content: 'A person as JSON.' }],
    format: schema,
    options: { temperature: 0, num_predict: 80 },
  });
  assert.equal(r.done_reason, 'stop');
  const person = JSON.parse(r.message.content);
  assert.equal(typeof person.name, 'string');
  assert.ok(person.name.length <= 8);
  assert.ok(Number.isInteger(person.age) && person.age >= 0 && person.age <= 120);
});

test('tools: a tool call sent back with its result', async () => {
  const tools = [{
    type: 'function',
    function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
  }];
  const r = await ollama.chat({
    model: 'ax-code-15m',
    tools,
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
      { role: 'tool', content: '18C', tool_name: 'get_weather' },
    ],
    options: greedy,
  });
  assert.equal(r.done, true);
});

test('embed and embeddings', async () => {
  const e = await ollama.embed({ model: 'ax-code-15m', input: ['def f(x):', 'import os'] });
  assert.equal(e.embeddings.length, 2);
  const norm = Math.hypot(...e.embeddings[0]);
  assert.ok(Math.abs(norm - 1) < 1e-4);
  const older = await ollama.embeddings({ model: 'coder', prompt: 'def f(x):' });
  assert.equal(older.embedding.length, e.embeddings[0].length);
  assert.ok(Math.abs(older.embedding[0] - e.embeddings[0][0]) < 1e-5);
});

test('list, show, ps, version', async () => {
  const list = await ollama.list();
  assert.deepEqual(list.models.map((m) => m.name), ['ax-code-15m', 'coder']);
  assert.equal(list.models[0].details.family, 'qwen3');
  const show = await ollama.show({ model: 'coder' });
  assert.ok(show.template.length > 0);
  assert.ok(show.capabilities.includes('completion'));
  assert.equal(show.model_info['general.architecture'], 'qwen3');
  const ps = await ollama.ps();
  assert.equal(ps.models[0].name, 'ax-code-15m');
  assert.ok(ps.models[0].size > 0);
  assert.ok(!Number.isNaN(new Date(ps.models[0].expires_at).getTime()));
  const v = await ollama.version();
  assert.match(v.version, /^\d+\.\d+\.\d+$/);
});

test('errors reach the client as ResponseError with the server message', async () => {
  await assert.rejects(ollama.chat({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), (e) => {
    assert.equal(e.name, 'ResponseError');
    assert.equal(e.status_code, 404);
    assert.equal(e.error, 'model "nope" not found');
    return true;
  });
  await assert.rejects(ollama.chat({ model: 'coder', messages: [{ role: 'user', content: 'x', images: ['aGk='] }] }), (e) => {
    assert.equal(e.status_code, 400);
    assert.match(e.error, /images/);
    return true;
  });
  await assert.rejects(ollama.generate({ model: 'coder', prompt: 'x', stream: true, options: { temperature: 9 } }), (e) => {
    assert.equal(e.status_code, 400);
    assert.match(e.error, /options\.temperature/);
    return true;
  });
});
