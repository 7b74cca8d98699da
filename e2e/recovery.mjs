// recovery.mjs tests connection state recovery in a real browser (Debian's
// Chromium under playwright-core, launched by browser.mjs) against two
// running instances of examples/cluster that share Redis (recovery on, the
// Redis broker as its store).
//
// Tab A loads the chat through a TCP proxy started here, which plays the
// load balancer: it forwards to the first instance. Tab B is on the second
// instance directly. Both chat in room "lobby". Then the proxy kills tab
// A's connections with TCP resets (no close frame: what a dead network
// looks like), refuses tab A's reconnects while tab B sends ten messages,
// and from then on forwards to the second instance. Tab A must reconnect by
// itself, recover its session there, and show every message it missed
// once, in order, then chat on as before.
//
//	BASE_URLS=http://127.0.0.1:8081,http://127.0.0.1:8082 node e2e/recovery.mjs
//
// run.sh starts the instances. It exits 0 when every step passes, and 1
// with the failing step otherwise, within about 90 seconds.
import net from "node:net";

import { CHROMIUM, launch } from "./browser.mjs";

const URLS = (process.env.BASE_URLS || "").split(",").filter(Boolean);
const TOTAL_TIMEOUT_MS = 90_000;
const STEP_TIMEOUT_MS = 20_000; // a reconnect after refused attempts waits up to the page's maxDelay (8 s)
const MISSED = 10;

if (URLS.length !== 2) {
  console.error("recovery.mjs: set BASE_URLS to two instances of examples/cluster, e.g. BASE_URLS=http://127.0.0.1:8081,http://127.0.0.1:8082");
  process.exit(2);
}

let browser;
let proxy;
let step = "start";
const watchdog = setTimeout(() => {
  console.error(`FAIL recovery: timed out after ${TOTAL_TIMEOUT_MS / 1000}s during: ${step}`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

function log(msg) {
  console.log(`  ${msg}`);
}

// startProxy forwards TCP connections to target (a URL's host:port) and can
// kill them all with resets, refuse new ones, and change its target.
async function startProxy(target) {
  const pairs = new Set();
  const p = { target: new URL(target), refusing: false, accepted: 0 };
  const server = net.createServer((client) => {
    if (p.refusing) {
      client.resetAndDestroy();
      return;
    }
    p.accepted++;
    const upstream = net.connect(Number(p.target.port), p.target.hostname);
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on("error", end);
      s.on("close", end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  p.url = `http://127.0.0.1:${server.address().port}`;
  // cut resets every forwarded connection on both sides: no close frame.
  p.cut = () => {
    for (const { client, upstream } of pairs) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    pairs.clear();
  };
  p.close = () =>
    new Promise((resolve) => {
      p.cut();
      server.close(() => resolve());
    });
  return p;
}

async function open(label, base, name) {
  step = `${label} opens ${base} as ${name}`;
  const page = await browser.open(label, `${base}/?room=lobby&name=${encodeURIComponent(name)}`);
  await page.waitForFunction(() => document.querySelector("#status")?.textContent === "connected");
  log(`${label}: connected through ${base} as ${name}`);
  return page;
}

// messages returns the texts of the page's chat lines, in order.
function messages(page) {
  return page.evaluate(() => [...document.querySelectorAll("#messages li.msg")].map((li) => li.textContent));
}

// waitForItem waits until #messages holds an <li> of class cls whose text
// starts with prefix.
async function waitForItem(page, label, cls, prefix) {
  step = `${label} shows <li class="${cls}">${prefix}...`;
  await page.waitForFunction(
    ([c, p]) => [...document.querySelectorAll(`#messages li.${c}`)].some((li) => li.textContent.startsWith(p)),
    [cls, prefix],
  );
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

async function stats(base) {
  return (await fetch(`${base}/api/ws/stats`)).json();
}

// say sends text from page and waits until the page shows it back.
async function say(page, label, name, text) {
  step = `${label} sends ${JSON.stringify(text)}`;
  await page.fill("#text", text);
  await page.press("#text", "Enter");
  await waitForItem(page, label, "msg", `${name}: ${text}`);
}

function sameList(got, want, what) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`${what}:\n    got  ${JSON.stringify(got)}\n    want ${JSON.stringify(want)}`);
  }
}

async function main() {
  step = `launch ${CHROMIUM}`;
  browser = await launch({ timeout: STEP_TIMEOUT_MS });
  log(`browser: Chromium ${browser.version}`);
  const tag = Math.random().toString(36).slice(2, 8);
  const alice = `alice-${tag}`;
  const bob = `bob-${tag}`;

  proxy = await startProxy(URLS[0]);
  log(`proxy ${proxy.url} -> ${URLS[0]}`);
  const a = await open("tab A", proxy.url, alice);
  await waitForBroker(URLS[0]);
  const b = await open("tab B", URLS[1], bob);
  await waitForBroker(URLS[1]);
  await waitForItem(a, "tab A", "notice", `${bob} joined lobby`);

  const want = [];
  for (const text of ["before the drop, 1", "before the drop, 2"]) {
    await say(b, "tab B", bob, text);
    want.push(`${bob}: ${text}`);
  }
  await say(a, "tab A", alice, "alice, before the drop");
  want.push(`${alice}: alice, before the drop`);
  step = "tab A has everything so far";
  await a.waitForFunction((n) => document.querySelectorAll("#messages li.msg").length === n, want.length);
  sameList(await messages(a), want, "tab A before the drop");
  const before = await stats(URLS[1]);

  // The drop: resets on both sides, and tab A cannot come back for now.
  step = "the proxy kills tab A's connection";
  proxy.refusing = true;
  proxy.target = new URL(URLS[1]); // the load balancer moves tab A
  proxy.cut();
  await a.waitForFunction(() => document.querySelector("#status")?.textContent.startsWith("reconnecting"));
  log("tab A: connection reset, reconnecting");

  for (let i = 1; i <= MISSED; i++) {
    const text = `while A was away, ${i}`;
    await say(b, "tab B", bob, text);
    want.push(`${bob}: ${text}`);
  }
  log(`tab B: sent ${MISSED} messages while tab A was away`);
  sameList((await messages(a)).length, want.length - MISSED, "tab A got nothing while away");

  step = "tab A reconnects through the proxy to the second instance";
  proxy.refusing = false;
  await a.waitForFunction(() => document.querySelector("#status")?.textContent === "connected");
  await waitForItem(a, "tab A", "notice", "reconnected: ");
  const notice = await a.evaluate(() => [...document.querySelectorAll("#messages li.notice")].map((li) => li.textContent).findLast((t) => t.startsWith("reconnected")));
  sameList(notice, `reconnected: ${MISSED} missed messages delivered`, "tab A's reconnect notice");
  log(`tab A: ${notice}`);
  sameList(await messages(a), want, "tab A after the recovery: every message once, in order");

  const after = await stats(URLS[1]);
  step = "the second instance counts the recovery";
  if (!after.recovery || after.recovery.recovered !== (before.recovery?.recovered ?? 0) + 1 || after.recovery.replayed < MISSED) {
    throw new Error(`second instance's recovery stats: before ${JSON.stringify(before.recovery)}, after ${JSON.stringify(after.recovery)}`);
  }

  // The recovered connection is in the room: it chats both ways.
  await say(b, "tab B", bob, "welcome back");
  want.push(`${bob}: welcome back`);
  await waitForItem(a, "tab A", "msg", `${bob}: welcome back`);
  await say(a, "tab A", alice, "thanks, I missed nothing");
  want.push(`${alice}: thanks, I missed nothing`);
  await waitForItem(b, "tab B", "msg", `${alice}: thanks, I missed nothing`);
  sameList(await messages(a), want, "tab A at the end");
  step = "no duplicate arrival or departure notices";
  const notices = await a.evaluate(() => [...document.querySelectorAll("#messages li.notice")].map((li) => li.textContent));
  const count = (prefix) => notices.filter((t) => t.startsWith(prefix)).length;
  if (count(`${alice} joined`) !== 1 || count(`${bob} joined`) !== 1 || count(`${alice} left`) !== 0) {
    throw new Error(`tab A's notices: ${JSON.stringify(notices)}`);
  }
  log(`tab A: ${want.length} messages, each once, in order`);

  if (browser.errors.length > 0) throw new Error(`errors in the page:\n    ${browser.errors.join("\n    ")}`);
}

try {
  await main();
  console.log("PASS recovery: a dropped tab recovers on the other instance with every missed message once, in order");
  process.exitCode = 0;
} catch (err) {
  console.error(`FAIL recovery: during: ${step}\n  ${err && err.message ? err.message.split("\n").join("\n  ") : err}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  if (proxy) await proxy.close();
  clearTimeout(watchdog);
}
