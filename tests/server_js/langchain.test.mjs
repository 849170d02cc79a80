// LangChain JS against ax-engine serve: ChatOpenAI and OpenAIEmbeddings pointed at the server's
// OpenAI-compatible routes, as an application would use them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { ChatPromptTemplate } from '@langchain/core/prompts';
import { StringOutputParser } from '@langchain/core/output_parsers';
import { startServer, codeModel } from './server.mjs';

let server;
before(async () => { server = await startServer(codeModel); });
after(async () => { assert.equal(await server.stop(), 0); });

test('LangChain: a prompt | model | parser chain, invoked and streamed', async () => {
  const model = new ChatOpenAI({
    model: 'ax-code-15m',
    apiKey: 'unused',  // the server takes any key unless started with --api-key
    configuration: { baseURL: `${server.base}/v1` },
    temperature: 0,
    maxTokens: 24,
  });
  const prompt = ChatPromptTemplate.fromMessages([['system', 'You write {language}.'], ['user', '{code}']]);
  const chain = prompt.pipe(model).pipe(new StringOutputParser());
  const input = { language: 'Python', code: 'def fibonacci(n):' };
  const text = await chain.invoke(input);
  assert.equal(typeof text, 'string');
  assert.ok(text.length > 0);
  let streamed = '';
  for await (const piece of await chain.stream(input)) streamed += piece;
  assert.equal(streamed, text);  // greedy: the same reply either way

  // The same conversation through the server directly gives the same text.
  const messages = [{ role: 'system', content: 'You write Python.' }, { role: 'user', content: 'def fibonacci(n):' }];
  const direct = await fetch(`${server.base}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages, temperature: 0, max_tokens: 24 }),
  }).then((r) => r.json());
  assert.equal(text, direct.choices[0].message.content);
});

test('LangChain: OpenAIEmbeddings', async () => {
  const embeddings = new OpenAIEmbeddings({
    model: 'ax-code-15m', apiKey: 'unused', configuration: { baseURL: `${server.base}/v1` },
  });
  const [a, b] = await embeddings.embedDocuments(['def add(a, b):', 'import numpy as np']);
  assert.equal(a.length, b.length);
  assert.ok(Math.abs(Math.hypot(...a) - 1) < 1e-4);
  const q = await embeddings.embedQuery('def add(a, b):');
  assert.ok(q.every((x, i) => Math.abs(x - a[i]) < 1e-5));
});
