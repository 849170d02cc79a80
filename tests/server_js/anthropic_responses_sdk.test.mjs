// ax-engine serve through the official @anthropic-ai/sdk (Messages) and the openai SDK's Responses
// API: what an application built on either sees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startServer, codeModel } from './server.mjs';

let code, anthropic, openai;

before(async () => {
  code = await startServer(codeModel, ['--api-key', 'sekret']);
  anthropic = new Anthropic({ baseURL: code.base, apiKey: 'sekret', maxRetries: 0 });
  openai = new OpenAI({ baseURL: `${code.base}/v1`, apiKey: 'sekret', maxRetries: 0 });
});

after(async () => {
  assert.equal(await code.stop(), 0);
});

const weather = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string', maxLength: 12 } }, required: ['city'] },
};

test('messages.create, blocking', async () => {
  const m = await anthropic.messages.create({
    model: 'ax-code-15m',
    max_tokens: 12,
    system: 'Python only.',
    messages: [{ role: 'user', content: 'def fib(n):' }],
  });
  assert.equal(m.type, 'message');
  assert.equal(m.content[0].type, 'text');
  assert.ok(['end_turn', 'max_tokens'].includes(m.stop_reason));
  assert.ok(m.usage.output_tokens >= 1 && m.usage.output_tokens <= 12);
});

test('messages.stream: events and the final message agree', async () => {
  const stream = anthropic.messages.stream({
    model: 'ax-code-15m',
    max_tokens: 16,
    temperature: 0,
    messages: [{ role: 'user', content: 'import os\n' }],
  });
  let text = '';
  const types = [];
  stream.on('text', (t) => (text += t));
  stream.on('streamEvent', (e) => types.push(e.type));
  const final = await stream.finalMessage();
  assert.equal(final.content[0].text, text);
  assert.equal(types[0], 'message_start');
  assert.equal(types.at(-1), 'message_stop');
  const blocking = await anthropic.messages.create({
    model: 'ax-code-15m',
    max_tokens: 16,
    temperature: 0,
    messages: [{ role: 'user', content: 'import os\n' }],
  });
  assert.equal(blocking.content[0].text, text);
});

test('messages with a forced tool, then the tool result', async () => {
  const m = await anthropic.messages.create({
    model: 'ax-code-15m',
    max_tokens: 60,
    temperature: 0, // at temperature 1 the tiny model may spend its tokens on the whitespace JSON allows
    tools: [weather],
    tool_choice: { type: 'tool', name: 'get_weather' },
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
  });
  assert.equal(m.stop_reason, 'tool_use');
  const use = m.content.find((b) => b.type === 'tool_use');
  assert.equal(use.name, 'get_weather');
  assert.equal(typeof use.input.city, 'string');
  const reply = await anthropic.messages.create({
    model: 'ax-code-15m',
    max_tokens: 8,
    tools: [weather],
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: m.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18C' }] },
    ],
  });
  assert.equal(reply.type, 'message');
});

test('messages.countTokens and an Anthropic-shaped error', async () => {
  const c = await anthropic.messages.countTokens({ model: 'ax-code-15m', messages: [{ role: 'user', content: 'hello' }] });
  assert.ok(c.input_tokens > 1);
  await assert.rejects(
    anthropic.messages.create({ model: 'ax-code-15m', max_tokens: 4, messages: [] }),
    (e) => e instanceof Anthropic.BadRequestError && e.error.type === 'error' && /messages/.test(e.error.error.message),
  );
  const wrong = new Anthropic({ baseURL: code.base, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(wrong.messages.create({ model: 'ax-code-15m', max_tokens: 4, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.AuthenticationError);
});

test('responses.create, blocking and streamed, with previous_response_id', async () => {
  const r = await openai.responses.create({ model: 'ax-code-15m', input: 'def fib(n):', max_output_tokens: 10, temperature: 0 });
  assert.equal(r.object, 'response');
  assert.equal(typeof r.output_text, 'string');
  const stream = await openai.responses.create({
    model: 'ax-code-15m', input: 'def fib(n):', max_output_tokens: 10, temperature: 0, stream: true,
  });
  let text = '';
  let last;
  for await (const e of stream) {
    if (e.type === 'response.output_text.delta') text += e.delta;
    last = e;
  }
  assert.equal(text, r.output_text);
  assert.ok(['response.completed', 'response.incomplete'].includes(last.type));
  const next = await openai.responses.create({ model: 'ax-code-15m', input: 'more', max_output_tokens: 4, previous_response_id: r.id });
  assert.equal(next.previous_response_id, r.id);
  assert.ok(next.usage.input_tokens > r.usage.input_tokens + r.usage.output_tokens);
});

test('responses.create with a function tool and its output', async () => {
  const tool = { type: 'function', name: 'get_weather', parameters: weather.input_schema, strict: false };
  const r = await openai.responses.create({
    model: 'ax-code-15m', input: 'Weather in Paris?', tools: [tool], tool_choice: 'required', max_output_tokens: 60, temperature: 0,
  });
  const call = r.output.find((i) => i.type === 'function_call');
  assert.equal(call.name, 'get_weather');
  assert.equal(typeof JSON.parse(call.arguments).city, 'string');
  const answer = await openai.responses.create({
    model: 'ax-code-15m',
    tools: [tool],
    max_output_tokens: 5,
    previous_response_id: r.id,
    input: [{ type: 'function_call_output', call_id: call.call_id, output: '18C' }],
  });
  assert.equal(answer.status === 'completed' || answer.status === 'incomplete', true);
});
