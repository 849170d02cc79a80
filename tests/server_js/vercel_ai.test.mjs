// The Vercel AI SDK against ax-engine serve through its OpenAI-compatible provider, as an
// application would use it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, streamText } from 'ai';
import { startServer, codeModel } from './server.mjs';

let server;
before(async () => { server = await startServer(codeModel); });
after(async () => { assert.equal(await server.stop(), 0); });

test('Vercel AI SDK: generateText and streamText', async () => {
  const ax = createOpenAICompatible({ name: 'ax-engine', baseURL: `${server.base}/v1`, includeUsage: true });
  const request = {
    model: ax.chatModel('ax-code-15m'),
    system: 'You write Python.',
    prompt: 'def fibonacci(n):',
    temperature: 0,
    maxOutputTokens: 24,
  };
  const result = await generateText(request);
  assert.ok(result.text.length > 0);
  assert.ok(['stop', 'length'].includes(result.finishReason));
  assert.ok(result.usage.inputTokens > 0);
  assert.ok(result.usage.outputTokens > 0 && result.usage.outputTokens <= 24);

  const stream = streamText(request);
  let streamed = '';
  for await (const piece of stream.textStream) streamed += piece;
  assert.equal(streamed, result.text);  // greedy: the same reply either way
  assert.equal((await stream.usage).outputTokens, result.usage.outputTokens);
});
