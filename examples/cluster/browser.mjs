// browser.mjs drives two running instances of examples/cluster in a real
// browser (Debian's Chromium under playwright-core, launched by
// e2e/browser.mjs): tab A on the first instance and tab B on the second
// join room "lobby" and chat both ways through Redis; each must see the
// other's arrival, messages and leaving.
//
//	BASE_URLS=http://127.0.0.1:8081,http://127.0.0.1:8082 node examples/cluster/browser.mjs
//
// It starts nothing itself. It exits 0 when every step passes, and 1 with
// the failing step otherwise, within about 60 seconds.
import { CHROMIUM, launch } from "../../e2e/browser.mjs";

const URLS = (process.env.BASE_URLS || "").split(",").filter(Boolean);
const TOTAL_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 10_000;

if (URLS.length !== 2) {
  console.error("browser.mjs: set BASE_URLS to the two instances, e.g. BASE_URLS=http://127.0.0.1:8081,http://127.0.0.1:8082");
  process.exit(2);
}

let browser;
let step = "start";
const watchdog = setTimeout(() => {
  console.error(`FAIL ${URLS}: timed out after ${TOTAL_TIMEOUT_MS / 1000}s during: ${step}`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

function log(msg) {
  console.log(`  ${msg}`);
}

async function open(label, base, room, name) {
  step = `${label} opens ${base} room ${room} as ${name}`;
  const page = await browser.open(label, `${base}/?room=${encodeURIComponent(room)}&name=${encodeURIComponent(name)}`);
  await page.waitForFunction(() => document.querySelector("#status")?.textContent === "connected");
  log(`${label}: connected to ${base} in ${room} as ${name}`);
  return page;
}

// waitForItem waits until #messages holds an <li> of class cls whose text
// starts with prefix (the member counts in notices are per instance).
async function waitForItem(page, label, cls, prefix) {
  step = `${label} shows <li class="${cls}">${prefix}...`;
  await page.waitForFunction(
    ([c, p]) => [...document.querySelectorAll(`#messages li.${c}`)].some((li) => li.textContent.startsWith(p)),
    [cls, prefix],
  );
  log(`${label}: sees ${JSON.stringify(prefix)}`);
}

// waitForBroker waits until the instance's broker has its room subscribed.
async function waitForBroker(base) {
  step = `${base} subscribes the room in Redis`;
  for (;;) {
    const stats = await (await fetch(`${base}/api/ws/stats`)).json();
    if (stats.broker && stats.broker.connected && stats.broker.subscriptions === 1) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main() {
  step = `launch ${CHROMIUM}`;
  browser = await launch({ timeout: STEP_TIMEOUT_MS });
  log(`browser: Chromium ${browser.version}`);
  const tag = Math.random().toString(36).slice(2, 8);
  const alice = `alice-${tag}`;
  const bob = `bob-${tag}`;

  const a = await open("tab A", URLS[0], "lobby", alice);
  await waitForBroker(URLS[0]);
  const b = await open("tab B", URLS[1], "lobby", bob);
  await waitForBroker(URLS[1]);
  await waitForItem(a, "tab A", "notice", `${bob} joined lobby`);

  const hello = `hello from ${alice} on the first instance`;
  step = "tab A sends";
  await a.fill("#text", hello);
  await a.press("#text", "Enter");
  await waitForItem(b, "tab B", "msg", `${alice}: ${hello}`);
  await waitForItem(a, "tab A", "msg", `${alice}: ${hello}`);

  const answer = `hi ${alice}, ${bob} on the second instance`;
  step = "tab B sends";
  await b.fill("#text", answer);
  await b.click("#send");
  await waitForItem(a, "tab A", "msg", `${bob}: ${answer}`);
  await waitForItem(b, "tab B", "msg", `${bob}: ${answer}`);

  step = "tab B closes";
  await b.close();
  await waitForItem(a, "tab A", "notice", `${bob} left lobby`);

  if (browser.errors.length > 0) throw new Error(`errors in the page:\n    ${browser.errors.join("\n    ")}`);
}

try {
  await main();
  console.log(`PASS ${URLS}`);
  process.exitCode = 0;
} catch (err) {
  console.error(`FAIL ${URLS}: during: ${step}\n  ${err && err.message ? err.message.split("\n").join("\n  ") : err}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  clearTimeout(watchdog);
}
