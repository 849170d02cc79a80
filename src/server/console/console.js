// The console page: the served model (GET /info), readiness (GET /health), live charts from
// GET /metrics and the requests in flight (GET /requests), all polled once a second; the chat
// playground lives in playground.js. Same-origin requests only: the browser sends the
// credentials it was asked for when it opened the page (servers started with --api-key).
import { LineChart } from './charts.js';
import { Deltas, parseMetrics } from './metrics.js';
import { startPlayground } from './playground.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;

const fixed = (digits) => (v) => (v === null || v === undefined ? '–' : v.toFixed(digits));
const percent = (v) => (v === null || v === undefined ? '–' : `${(100 * v).toFixed(v > 0 && v < 0.1 ? 1 : 0)}%`);
const millis = (s) => (s === null || s === undefined ? '–' : s < 1 ? `${(1000 * s).toFixed(0)} ms` : `${s.toFixed(2)} s`);

// Each chart: its canvas, how its value is computed from two scrapes, how it is written.
const charts = {
  throughput: { format: (v) => `${fixed(0)(v)} tok/s`, value: (d) => d.perSecond('ax_engine_generated_tokens_total') },
  ttft: {
    format: millis,
    value: (d) => d.ratio('ax_time_to_first_token_seconds_sum', 'ax_time_to_first_token_seconds_count'),
  },
  queue: {
    format: (v) => `${fixed(0)(v)} waiting`,
    value: (d) => d.after.get('ax_requests_waiting') ?? null,
    label: (d) => `${d.after.get('ax_requests_waiting') ?? 0} waiting · ${d.after.get('ax_requests_running') ?? 0} running`,
  },
  kv: { format: percent, fixedMax: 1, value: (d) => d.after.get('ax_kv_cache_usage_ratio') ?? null },
  prefix: {
    format: percent,
    fixedMax: 1,
    value: (d) => d.ratio('ax_prefix_cache_hit_tokens_total', 'ax_engine_prompt_tokens_total'),
    label: (d, v) => (v === null ? `${percent(d.after.get('ax_prefix_cache_hit_ratio'))} overall` : percent(v)),
  },
  spec: {
    format: percent,
    fixedMax: 1,
    value: (d) => d.ratio('ax_spec_accepted_tokens_total', 'ax_spec_drafted_tokens_total'),
    label: (d, v) => (v === null ? `${percent(d.after.get('ax_spec_acceptance_ratio'))} overall` : percent(v)),
  },
};

for (const [name, c] of Object.entries(charts)) {
  c.chart = new LineChart($(`c-${name}`), { format: c.format, fixedMax: c.fixedMax ?? null });
}
// For tests and the curious: the charts and how many samples each has drawn.
window.axConsole = { charts: Object.fromEntries(Object.entries(charts).map(([k, c]) => [k, c.chart])) };

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  const body = await res.json().catch(() => null);
  return { status: res.status, body };
}

function showModel(info) {
  const m = info.model, e = info.engine;
  $('model-id').textContent = m.id;
  document.title = `${m.id} · AX Engine`;
  const facts = [
    ['architecture', m.architecture],
    ['layers', `${m.num_layers} × hidden ${m.hidden_size}, MLP ${m.intermediate_size}`],
    ['attention', `${m.num_heads} heads, ${m.num_kv_heads} KV heads of ${m.head_dim}`],
    ['experts', m.experts ? `${m.experts.per_token} of ${m.experts.count} per token` : null],
    ['vocabulary', `${m.vocab_size} (${m.tokenizer})`],
    ['context', `${e.max_context} tokens per sequence`],
    ['chat template', m.chat_template ? 'yes' : 'none'],
    ['backend', e.backend],
    ['KV cache', e.kv_cache.replace(/^KV cache: /, '')],
    ['batch', `${e.max_num_seqs} sequences`],
    ['speculation', e.speculation === 'off' ? 'off' : `n-gram, up to ${e.max_draft} draft tokens`],
    ['file', m.path],
  ];
  const list = $('model-info');
  list.replaceChildren();
  for (const [k, v] of facts) {
    if (v === null) continue;
    const dt = document.createElement('dt'), dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = v;
    list.append(dt, dd);
  }
}

function showRequests(rows) {
  $('requests-count').textContent = rows.length ? `(${rows.length})` : '';
  const body = $('requests-body');
  body.replaceChildren();
  if (rows.length === 0) {
    const td = document.createElement('td');
    td.colSpan = 6;
    td.className = 'empty';
    td.textContent = 'none';
    body.append(document.createElement('tr'));
    body.lastChild.append(td);
    return;
  }
  for (const r of rows) {
    const tr = document.createElement('tr');
    const generated = r.choices > 1 ? `${r.completion_tokens} (${r.choices} choices)` : `${r.completion_tokens}`;
    for (const v of [r.id, r.route, `${r.age_s.toFixed(1)} s`, millis(r.ttft_s), r.prompt_tokens, generated]) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.append(td);
    }
    body.append(tr);
  }
}

let previous = null;  // { at, samples }
let modelShown = false;

async function poll() {
  const at = performance.now();
  try {
    const [health, metricsText, requests] = await Promise.all([
      getJson('/health'),
      fetch('/metrics', { cache: 'no-store' }).then((r) => r.text()),
      getJson('/requests'),
    ]);
    const state = health.body?.status ?? 'down';
    $('health').dataset.state = state;
    $('health').textContent = state === 'ok' ? 'ready' : state.replaceAll('_', ' ');
    if (state === 'ok' && !modelShown) {
      const info = await getJson('/info');
      if (info.status === 200) {
        showModel(info.body);
        modelShown = true;
      }
    }
    if (requests.status === 200) showRequests(requests.body.data);
    const samples = parseMetrics(metricsText);
    if (previous) {
      const d = new Deltas(previous.samples, samples, (at - previous.at) / 1000);
      for (const [name, c] of Object.entries(charts)) {
        const v = c.value(d);
        c.chart.push(v);
        $(`v-${name}`).textContent = c.label ? c.label(d, v) : c.format(v);
      }
    }
    previous = { at, samples };
  } catch (e) {
    $('health').dataset.state = 'down';
    $('health').textContent = 'unreachable';
  }
  setTimeout(poll, Math.max(0, POLL_MS - (performance.now() - at)));
}

poll();
startPlayground();
