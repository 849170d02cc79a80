// ax-engine serve through the official openai SDK: what an application sees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { startServer, storiesModel, codeModel } from './server.mjs';

let stories, code, storiesClient, codeClient;

before(async () => {
  stories = await startServer(storiesModel);
  code = await startServer(codeModel);
  storiesClient = new OpenAI({ baseURL: `${stories.base}/v1`, apiKey: 'unused', maxRetries: 0 });
  codeClient = new OpenAI({ baseURL: `${code.base}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  assert.equal(await stories.stop(), 0);
  assert.equal(await code.stop(), 0);
});

const randomSeed = () => Math.floor(Math.random() * 2 ** 31);

test('models.list names the served model', async () => {
  const page = await codeClient.models.list();
  assert.deepEqual(page.data.map((m) => m.id), ['ax-code-15m']);
  const one = await codeClient.models.retrieve('ax-code-15m');
  assert.equal(one.id, 'ax-code-15m');
});

test('chat completion, blocking', async () => {
  const r = await codeClient.chat.completions.create({
    model: 'ax-code-15m',
    messages: [{ role: 'system', content: 'Python only.' }, { role: 'user', content: 'def fib(n):' }],
    max_tokens: 16,
    seed: randomSeed(),
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.prompt_tokens > 0);
  assert.ok(r.usage.completion_tokens > 0 && r.usage.completion_tokens <= 16);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('chat completion, streaming, equals blocking for the same seed', async () => {
  const seed = randomSeed();
  const request = {
    model: 'ax-code-15m',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'import sys\n' }] }],
    max_tokens: 20,
    temperature: 0.8,
    seed,
  };
  const blocking = await codeClient.chat.completions.create(request);
  const stream = await codeClient.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(text, blocking.choices[0].message.content, `seed ${seed}`);
  assert.equal(finish, blocking.choices[0].finish_reason);
  assert.equal(usage.completion_tokens, blocking.usage.completion_tokens);
});

test('chat with n > 1 and logprobs', async () => {
  const r = await codeClient.chat.completions.create({
    model: 'ax-code-15m',
    messages: [{ role: 'user', content: 'class Stack:' }],
    max_tokens: 8,
    n: 3,
    logprobs: true,
    top_logprobs: 2,
  });
  assert.equal(r.choices.length, 3);
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
  for (const c of r.choices) {
    assert.ok(c.logprobs.content.length > 0);
    for (const t of c.logprobs.content) {
      assert.ok(t.logprob <= 0);
      assert.equal(t.top_logprobs.length, 2);
      assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob);
    }
  }
});

test('completions, blocking and streaming', async () => {
  const r = await storiesClient.completions.create({ model: 'stories260K', prompt: 'Once upon a time', max_tokens: 12, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.ok(r.choices[0].text.length > 0);
  const stream = await storiesClient.completions.create({
    model: 'stories260K', prompt: 'Once upon a time', max_tokens: 12, temperature: 0, stream: true,
  });
  let text = '';
  for await (const chunk of stream) for (const c of chunk.choices) text += c.text;
  assert.equal(text, r.choices[0].text);
  // A token-array prompt works too.
  const t = await storiesClient.completions.create({ model: 'stories260K', prompt: [1, 403, 407], max_tokens: 4, logprobs: 1 });
  assert.equal(t.choices[0].logprobs.tokens.length, t.usage.completion_tokens);
});

test('errors arrive as the SDK error types', async () => {
  await assert.rejects(
    storiesClient.completions.create({ model: 'stories260K', prompt: 'x', temperature: 5 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.error?.param === 'temperature',
  );
  await assert.rejects(
    codeClient.chat.completions.create({ model: 'ax-code-15m', messages: [] }),
    (e) => e instanceof OpenAI.BadRequestError && e.error?.param === 'messages',
  );
  await assert.rejects(codeClient.models.retrieve('gpt-4'), (e) => e instanceof OpenAI.NotFoundError);
  await assert.rejects(
    storiesClient.completions.create({ model: 'stories260K', prompt: 'x', max_tokens: 100000000 }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'context_length_exceeded',
  );
});

test('a wrong API key is an AuthenticationError', async () => {
  const guarded = await startServer(storiesModel, ['--api-key', 'k-123']);
  try {
    const bad = new OpenAI({ baseURL: `${guarded.base}/v1`, apiKey: 'wrong', maxRetries: 0 });
    await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError);
    const good = new OpenAI({ baseURL: `${guarded.base}/v1`, apiKey: 'k-123', maxRetries: 0 });
    assert.equal((await good.models.list()).data.length, 1);
  } finally {
    assert.equal(await guarded.stop(), 0);
  }
});

const itemSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 12 },
    count: { type: 'integer' },
    tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, maxItems: 3 },
    done: { type: 'boolean' },
  },
  required: ['name', 'count', 'done'],
};

function checkItem(value) {
  assert.equal(typeof value.name, 'string');
  assert.ok([...value.name].length <= 12);
  assert.ok(Number.isInteger(value.count));
  assert.equal(typeof value.done, 'boolean');
  for (const k of Object.keys(value)) assert.ok(['name', 'count', 'tags', 'done'].includes(k), k);
  if (value.tags) for (const t of value.tags) assert.ok(['a', 'b', 'c'].includes(t));
}

test('response_format json_schema: the output parses and matches the schema', async () => {
  for (const stream of [false, true]) {
    const request = {
      model: 'ax-code-15m',
      messages: [{ role: 'user', content: 'Describe an item as JSON.' }],
      max_tokens: 400,
      seed: randomSeed(),
      response_format: { type: 'json_schema', json_schema: { name: 'item', schema: itemSchema, strict: true } },
    };
    let content = '';
    let finish = null;
    if (stream) {
      for await (const chunk of await codeClient.chat.completions.create({ ...request, stream: true }))
        for (const c of chunk.choices) {
          content += c.delta.content ?? '';
          finish = c.finish_reason ?? finish;
        }
    } else {
      const r = await codeClient.chat.completions.create(request);
      content = r.choices[0].message.content;
      finish = r.choices[0].finish_reason;
    }
    assert.equal(finish, 'stop', content);
    checkItem(JSON.parse(content));
  }
  // json_object: any JSON object.
  const r = await codeClient.chat.completions.create({
    model: 'ax-code-15m', messages: [{ role: 'user', content: 'json please' }], max_tokens: 400,
    response_format: { type: 'json_object' },
  });
  if (r.choices[0].finish_reason === 'stop') {
    const v = JSON.parse(r.choices[0].message.content);
    assert.equal(typeof v, 'object');
    assert.ok(!Array.isArray(v));
  }
  // A schema keyword that cannot be enforced is a 400 naming it.
  await assert.rejects(
    codeClient.chat.completions.create({
      model: 'ax-code-15m', messages: [{ role: 'user', content: 'x' }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', not: { const: 'a' } } } },
    }),
    (e) => e instanceof OpenAI.BadRequestError && e.error?.param === 'response_format.json_schema.schema.not',
  );
});

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 10 } }, required: ['city'] },
  },
};
const timeTool = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };

test('tool calls: forced by tool_choice, returned as tool_calls, streamed as deltas', async () => {
  const request = {
    model: 'ax-code-15m',
    messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
    tools: [weatherTool, timeTool],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    // Enough for the longest call the grammar allows (whitespace runs and strings are bounded).
    max_tokens: 500,
    seed: randomSeed(),
  };
  const r = await codeClient.chat.completions.create(request);
  const choice = r.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.ok(call.id.startsWith('call_'));
  assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');

  // Streaming: the SDK's delta accumulation rebuilds the same kind of call.
  const calls = [];
  let finish = null;
  for await (const chunk of await codeClient.chat.completions.create({ ...request, tool_choice: 'required', stream: true })) {
    for (const c of chunk.choices) {
      finish = c.finish_reason ?? finish;
      for (const d of c.delta.tool_calls ?? []) {
        calls[d.index] ??= { id: d.id, name: '', arguments: '' };
        calls[d.index].name += d.function?.name ?? '';
        calls[d.index].arguments += d.function?.arguments ?? '';
      }
    }
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.length, 1);
  assert.ok(['get_weather', 'get_time'].includes(calls[0].name));
  assert.equal(typeof JSON.parse(calls[0].arguments), 'object');

  // The tool's answer goes back in as a tool message; the conversation continues.
  const followup = await codeClient.chat.completions.create({
    model: 'ax-code-15m',
    messages: [
      { role: 'user', content: 'What is the weather in Paris?' },
      // The assistant message exactly as the API returned it: content null beside tool_calls.
      choice.message,
      { role: 'tool', tool_call_id: call.id, content: '{"temp_c": 21}' },
    ],
    tools: [weatherTool],
    max_tokens: 8,
  });
  assert.equal(followup.choices[0].message.role, 'assistant');
});

// The SDK's own structured-output helper: a Zod schema with everyday refinements (lengths, an
// integer range, email and date-time formats, an enum, a nullable) becomes response_format, and
// the SDK parses and validates the reply with Zod.
test('zodResponseFormat: a Zod schema with bounds and formats parses back through Zod', async () => {
  const Person = z.object({
    name: z.string().min(1).max(20),
    age: z.number().int().min(0).max(120),
    email: z.string().email().max(40),
    tags: z.array(z.string().max(8)).max(3),
    created: z.string().datetime(),
    kind: z.enum(['a', 'b']),
    nick: z.string().max(10).nullable(),
  });
  for (let trial = 0; trial < 2; trial++) {
    const r = await codeClient.beta.chat.completions.parse({
      model: 'ax-code-15m',
      messages: [{ role: 'user', content: 'Describe a person.' }],
      response_format: zodResponseFormat(Person, 'person'),
      // Every field is bounded, whitespace runs too: 2000 tokens always hold the document.
      max_tokens: 2000,
      seed: randomSeed(),
    });
    const p = r.choices[0].message.parsed;
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.ok(Person.safeParse(p).success, JSON.stringify(p));
  }
});

test('embeddings: one unit vector per input (the SDK asks for base64 and decodes it)', async () => {
  const r = await codeClient.embeddings.create({ model: 'ax-code-15m', input: ['def f(x):', 'class A:', 'import re'] });
  assert.equal(r.object, 'list');
  assert.equal(r.data.length, 3);
  for (const [i, e] of r.data.entries()) {
    assert.equal(e.index, i);
    assert.equal(e.embedding.length, 384);
    const norm = Math.sqrt(e.embedding.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-4, `norm ${norm}`);
  }
  const floats = await codeClient.embeddings.create({ model: 'ax-code-15m', input: 'class A:', encoding_format: 'float' });
  for (let k = 0; k < 384; k++) assert.ok(Math.abs(floats.data[0].embedding[k] - r.data[1].embedding[k]) < 1e-6);
  assert.ok(r.usage.prompt_tokens > 0);
});
