// The web console of `ax-engine serve` in real headless Chromium (Debian's chromium, driven by
// puppeteer-core): the page loads with no console errors, the charts and the request table move
// while requests run, a chat in the playground streams its reply, the layout fits a phone.
// AX_CONSOLE_SCREENSHOTS=DIR also writes desktop and phone screenshots there (docs/ holds the
// committed ones: scripts/console-screenshots.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { startServer, codeModel } from '../server_js/server.mjs';

const chromium = process.env.AX_CHROMIUM ?? '/usr/bin/chromium';
const shots = process.env.AX_CONSOLE_SCREENSHOTS;

let server, browser;

before(async () => {
  server = await startServer(codeModel);
  // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
  browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  assert.equal(await server.stop(), 0);
});

// A page that records every console error, uncaught exception and failed request.
async function openConsole(base, viewport, credentials) {
  const page = await browser.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
  page.on('requestfailed', (r) => {
    // The playground's own Stop and a navigation away abort requests on purpose.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  if (credentials) await page.authenticate(credentials);
  await page.setViewport(viewport);
  await page.goto(`${base}/`, { waitUntil: 'load' });
  await page.waitForSelector('#health[data-state="ok"]', { timeout: 20000 });
  await page.waitForFunction(() => document.querySelectorAll('#model-info dt').length > 5, { timeout: 20000 });
  return { page, problems };
}

// A screenshot for docs/ (AX_CONSOLE_SCREENSHOTS): a chat answered in the playground and half a
// minute of charts first, so the picture shows what the console is for.
async function screenshot(page, name) {
  await page.$eval('#opt-max-tokens', (e) => { e.value = '60'; });
  await page.type('#chat-input', 'def fibonacci(n):');
  await page.click('#chat-send');
  await page.waitForSelector('.msg.assistant .stats', { timeout: 60000 });
  const from = await page.evaluate(() => window.axConsole.charts.throughput.pushes);
  await page.waitForFunction((n) => window.axConsole.charts.throughput.pushes >= n, { timeout: 60000 }, from + 30);
  await page.evaluate(() => window.scrollTo(0, 0));  // the sticky header at the top of the picture
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, name), fullPage: true });
}

// Generation requests from outside the page while `during` runs.
async function underLoad(base, during) {
  let stop = false;
  const worker = async (i) => {
    while (!stop) {
      await fetch(`${base}/v1/generate`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ input_text: `def function_${i}(x):\n`, max_output_tokens: 200, ignore_eos: true }),
      });
    }
  };
  const workers = [0, 1, 2, 3].map(worker);
  try {
    return await during();
  } finally {
    stop = true;
    await Promise.all(workers);
  }
}

test('the page loads, shows the model, and its charts and request table move under load', async () => {
  const { page, problems } = await openConsole(server.base, { width: 1280, height: 1000 });
  const facts = await page.$$eval('#model-info dt', (dts) => dts.map((d) => d.textContent));
  assert.ok(facts.includes('architecture') && facts.includes('KV cache') && facts.includes('backend'), facts.join());
  assert.equal(await page.$eval('#model-id', (e) => e.textContent), 'ax-code-15m');

  const pushesBefore = await page.evaluate(() => window.axConsole.charts.throughput.pushes);
  await underLoad(server.base, async () => {
    // The charts take a sample every second and draw what the load does: a positive throughput
    // in three samples running, KV blocks in use; the table lists the requests.
    await page.waitForFunction((from) => {
      const c = window.axConsole.charts.throughput;
      return c.pushes >= from + 3 && c.values.slice(-3).every((v) => v > 0);
    }, { timeout: 20000 }, pushesBefore);
    await page.waitForFunction(
      () => [...document.querySelectorAll('#requests-body td')].some((td) => td.textContent === '/v1/generate'),
      { timeout: 20000 });
    await page.waitForFunction(() => window.axConsole.charts.kv.values.some((v) => v > 0), { timeout: 20000 });
    if (shots) await screenshot(page, 'console-desktop.png');
  });
  const after = await page.evaluate(() => ({
    pushes: window.axConsole.charts.throughput.pushes,
    label: document.getElementById('v-throughput').textContent,
  }));
  assert.ok(after.pushes >= pushesBefore + 3, `the chart took ${after.pushes - pushesBefore} samples`);
  assert.match(after.label, /tok\/s$/);
  // Once the load is gone the table empties again.
  await page.waitForFunction(() => document.querySelector('#requests-body td.empty') !== null, { timeout: 20000 });
  assert.deepEqual(problems, []);
  await page.close();
});

test('a chat in the playground streams its reply, with its speed and the rendered prompt', async () => {
  const { page, problems } = await openConsole(server.base, { width: 1280, height: 1000 });
  await page.$eval('#opt-temperature', (e) => { e.value = '0'; });
  await page.$eval('#opt-max-tokens', (e) => { e.value = '400'; });
  await page.$eval('#opt-speculation', (e) => { e.checked = false; });  // one token per step: many pieces
  await page.type('#chat-system', 'You write Python.');
  await page.type('#chat-input', 'def fibonacci(n):');
  // Seen while the reply is still streaming: text already written, more to come.
  const partial = page.waitForFunction(() => {
    const m = document.querySelector('.msg.assistant.streaming');
    return m && m.textContent.length > 0 ? m.textContent : null;
  }, { timeout: 30000, polling: 'mutation' });
  await page.click('#chat-send');
  const seenWhileStreaming = await (await partial).jsonValue();
  await page.waitForSelector('.msg.assistant .stats', { timeout: 60000 });
  const reply = await page.$eval('.msg.assistant', (m) => m.firstChild.textContent);
  const stats = await page.$eval('.msg.assistant .stats', (s) => s.textContent);
  assert.ok(reply.startsWith(seenWhileStreaming) && reply.length > seenWhileStreaming.length,
            `partial ${JSON.stringify(seenWhileStreaming)}, final ${JSON.stringify(reply)}`);
  assert.match(stats, /^\d+ tokens · [\d.]+ tok\/s · first token \d+ ms · (stop|length)$/);

  // The same conversation through the API gives the same greedy reply.
  const direct = await fetch(`${server.base}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'system', content: 'You write Python.' }, { role: 'user', content: 'def fibonacci(n):' }],
                           temperature: 0, max_tokens: 400 }),
  }).then((r) => r.json());
  assert.equal(reply, direct.choices[0].message.content);

  await page.type('#chat-input', 'and now in one line');
  await page.click('#chat-prompt');
  await page.waitForSelector('#chat-rendered:not([hidden])');
  const rendered = await page.$eval('#chat-rendered', (e) => e.textContent);
  assert.ok(rendered.startsWith('<|im_start|>system\nYou write Python.<|im_end|>'), rendered);
  assert.ok(rendered.endsWith('<|im_start|>user\nand now in one line<|im_end|>\n<|im_start|>assistant\n'), rendered);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a phone-width screen gets one column and no sideways scrolling', async () => {
  const { page, problems } = await openConsole(server.base, { width: 390, height: 844, isMobile: true, hasTouch: true });
  await underLoad(server.base, async () => {
    // A full request table must not widen the page either.
    await page.waitForFunction(() => document.querySelectorAll('#requests-body tr').length >= 2, { timeout: 20000 });
    const layout = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      width: window.innerWidth,
      columns: getComputedStyle(document.querySelector('main')).gridTemplateColumns.split(' ').length,
      chartWidth: document.getElementById('c-throughput').getBoundingClientRect().width,
    }));
    assert.ok(layout.scrollWidth <= layout.width, `page ${layout.scrollWidth}px wide on a ${layout.width}px screen`);
    assert.equal(layout.columns, 1);
    assert.ok(layout.chartWidth > 140, `charts ${layout.chartWidth}px wide`);
    if (shots) await screenshot(page, 'console-phone.png');
  });
  assert.deepEqual(problems, []);
  await page.close();
});

test('behind --api-key the browser is asked for the key, and the page works with it', async () => {
  const guarded = await startServer(codeModel, ['--api-key', 'k-123']);
  try {
    const denied = await fetch(`${guarded.base}/`);
    assert.equal(denied.status, 401);
    assert.match(denied.headers.get('www-authenticate'), /^Basic /);
    const { page, problems } = await openConsole(guarded.base, { width: 1280, height: 800 },
                                                 { username: 'console', password: 'k-123' });
    await page.waitForFunction(() => document.querySelector('#requests-body td.empty') !== null, { timeout: 20000 });
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    assert.equal(await guarded.stop(), 0);
  }
});
