// Drives Concierge's chat page in headless Chromium over the DevTools
// protocol, as a shopper would: opens the page at URL (which carries the API
// key after '#key='), types REQUEST, sends it, and waits for Concierge's
// answer. Prints one JSON line: what the conversation log says, the address
// left in the bar, and whether the page kept the key for its tab.
//
// node tests/browser/chat_page.mjs URL REQUEST
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, request] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'concierge-chromium-'));
// The DevTools protocol over a pipe (fd 3 in, fd 4 out, messages ended by
// NUL): no port, and no WebSocket client needed in Node.
const browser = spawn(process.env.CHROMIUM || 'chromium', [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--remote-debugging-pipe', `--user-data-dir=${profile}`, 'about:blank',
], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });

function finish(code, result) {
  browser.kill('SIGKILL');
  try { rmSync(profile, { recursive: true, force: true }); } catch {}
  if (result) console.log(JSON.stringify(result));
  process.exit(code);
}
setTimeout(() => finish(2, { error: 'timed out' }), 90_000);
browser.on('exit', () => finish(3, { error: 'chromium exited' }));

const toBrowser = browser.stdio[3];
const fromBrowser = browser.stdio[4];
let nextId = 1;
const waiting = new Map();
const events = [];
let buffered = '';
fromBrowser.on('data', (chunk) => {
  buffered += chunk.toString('utf8');
  let end;
  while ((end = buffered.indexOf('\0')) >= 0) {
    const message = JSON.parse(buffered.slice(0, end));
    buffered = buffered.slice(end + 1);
    if (message.id && waiting.has(message.id)) {
      waiting.get(message.id)(message);
      waiting.delete(message.id);
    } else if (message.method) {
      events.push(message);
    }
  }
});
let sessionId;
function call(method, params = {}) {
  const id = nextId++;
  const message = { id, method, params };
  if (sessionId) message.sessionId = sessionId;
  toBrowser.write(JSON.stringify(message) + '\0');
  return new Promise((resolve) => waiting.set(id, resolve));
}
async function evaluate(expression) {
  const answer = await call('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
  return answer.result && answer.result.result ? answer.result.result.value : undefined;
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const created = await call('Target.createTarget', { url: 'about:blank' });
const attached = await call('Target.attachToTarget', { targetId: created.result.targetId, flatten: true });
sessionId = attached.result.sessionId;

await call('Page.enable');
await call('Runtime.enable');
await call('Page.navigate', { url });
for (let i = 0; i < 100 && (await evaluate('document.readyState')) !== 'complete'; i++) await sleep(100);

await evaluate(`(() => {
  document.getElementById('text').value = ${JSON.stringify(request)};
  document.getElementById('ask').requestSubmit();
})()`);
let log = '';
for (let i = 0; i < 600; i++) {
  await sleep(100);
  log = await evaluate(`document.getElementById('log').innerText`);
  if (!log.includes('Asking the merchants') && log.split('\n').length > 2) break;
}
finish(0, {
  log,
  address: await evaluate('location.href'),
  key_kept: await evaluate(`sessionStorage.getItem('concierge-key') !== null`),
  console_errors: events.filter((e) => e.method === 'Runtime.exceptionThrown').length,
});
