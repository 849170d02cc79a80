// The chat playground: a conversation sent to POST /v1/chat/completions as a stream, the reply
// written as it arrives, then its length, speed (tokens/s from the first token to the last) and
// time to first token. "Show prompt" asks POST /apply-template for the text the model sees.
const $ = (id) => document.getElementById(id);

const messages = [];  // the conversation so far: {role, content}
let running = null;   // the AbortController of the reply being written

function addMessage(role, text) {
  const div = document.createElement('div');
  div.className = `msg ${role}`;
  div.textContent = text;
  $('chat-log').append(div);
  div.scrollIntoView({ block: 'end' });
  return div;
}

// What the form asks for, as chat-completion fields.
function options() {
  const body = {
    temperature: Number($('opt-temperature').value),
    top_p: Number($('opt-top-p').value),
    max_tokens: Number($('opt-max-tokens').value),
    speculation: { mode: $('opt-speculation').checked ? 'ngram' : 'off' },
  };
  if ($('opt-seed').value !== '') body.seed = Number($('opt-seed').value);
  return body;
}

// The conversation the next request sends: the system message, the turns so far, the new text.
function conversation(pending) {
  const out = [];
  const system = $('chat-system').value.trim();
  if (system) out.push({ role: 'system', content: system });
  out.push(...messages);
  if (pending) out.push({ role: 'user', content: pending });
  return out;
}

async function errorText(res) {
  const body = await res.json().catch(() => null);
  return body?.error?.message ?? `HTTP ${res.status}`;
}

// The data payloads of a server-sent-events body, as they arrive.
async function* sseData(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return;
        yield data;
      }
    }
  }
}

async function send(text) {
  const reply = addMessage('assistant', '');
  reply.classList.add('streaming');
  const body = { messages: conversation(text), stream: true, stream_options: { include_usage: true }, ...options() };
  messages.push({ role: 'user', content: text });
  running = new AbortController();
  $('chat-send').disabled = true;
  $('chat-stop').disabled = false;
  const started = performance.now();
  let firstToken = null, content = '', usage = null, finish = null;
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal: running.signal,
    });
    if (!res.ok) throw new Error(await errorText(res));
    for await (const data of sseData(res.body)) {
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      if (choice.delta?.content) {
        firstToken ??= performance.now();
        content += choice.delta.content;
        reply.textContent = content;
        reply.scrollIntoView({ block: 'end' });
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  } catch (e) {
    if (e.name !== 'AbortError') {
      reply.classList.add('error');
      reply.textContent = content + (content ? '\n' : '') + e.message;
    }
  } finally {
    const ended = performance.now();
    running = null;
    $('chat-send').disabled = false;
    $('chat-stop').disabled = true;
    reply.classList.remove('streaming');
    messages.push({ role: 'assistant', content });
    if (usage) {
      const n = usage.completion_tokens;
      const decodeS = firstToken === null ? 0 : (ended - firstToken) / 1000;
      const speed = n > 1 && decodeS > 0 ? `${((n - 1) / decodeS).toFixed(1)} tok/s` : '–';
      const ttft = firstToken === null ? '–' : `${Math.round(firstToken - started)} ms`;
      const stats = document.createElement('span');
      stats.className = 'stats';
      stats.textContent = `${n} tokens · ${speed} · first token ${ttft}${finish ? ` · ${finish}` : ''}`;
      reply.append(stats);
    }
  }
}

async function showPrompt() {
  const pre = $('chat-rendered');
  const pending = $('chat-input').value.trim();
  const res = await fetch('/apply-template', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages: conversation(pending || null), add_generation_prompt: true }),
  });
  pre.hidden = false;
  pre.textContent = res.ok ? (await res.json()).prompt : await errorText(res);
}

export function startPlayground() {
  $('chat-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = $('chat-input').value.trim();
    if (!text || running) return;
    $('chat-input').value = '';
    addMessage('user', text);
    send(text);
  });
  $('chat-input').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      $('chat-form').requestSubmit();
    }
  });
  $('chat-stop').addEventListener('click', () => running?.abort());
  $('chat-prompt').addEventListener('click', showPrompt);
  $('chat-clear').addEventListener('click', () => {
    messages.length = 0;
    $('chat-log').replaceChildren();
    $('chat-rendered').hidden = true;
  });
}
