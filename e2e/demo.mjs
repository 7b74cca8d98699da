// demo.mjs drives examples/demo in a real browser (Debian's Chromium under
// playwright-core), starting and restarting the demo binary itself:
//
//	DEMO_BIN=/tmp/demo ARTIFACTS=e2e/artifacts node e2e/demo.mjs
//
// Two pages sign in under two names, land in the same room and chat; typing
// indicators arrive; the stats panel shows 2 connections; the echo box
// answers; a page from another origin is refused; the server is killed and
// started again, and the pages reconnect by themselves and send what was
// typed meanwhile; a token that expires shows the failure in the page,
// which does not reconnect in a loop. Screenshots go to ARTIFACTS. It
// exits 0 when every step passes, 1 with the failing step otherwise.
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";

import { startApp, stopApp } from "./app.mjs";
import { CHROMIUM, launch } from "./browser.mjs";

const DEMO_BIN = process.env.DEMO_BIN;
const ARTIFACTS = process.env.ARTIFACTS || "e2e/artifacts";
const TOTAL_TIMEOUT_MS = 120_000;
const STEP_TIMEOUT_MS = 15_000;
// A fixed key, so tokens outlive the restart below (the demo's default is
// a random key per process).
const KEY = "e2e-demo-key-0123456789abcdef0123456789";

if (!DEMO_BIN) {
  console.error("demo.mjs: set DEMO_BIN to the built examples/demo binary");
  process.exit(2);
}

let step = "start";
let browser;
const servers = new Set();

const watchdog = setTimeout(() => {
  console.error(`FAIL demo: timed out after ${TOTAL_TIMEOUT_MS / 1000}s during: ${step}`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

const log = (msg) => console.log(`  ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// startDemo runs the demo binary and resolves once it prints its URL.
async function startDemo(addr, extraArgs = [], env = {}) {
  const app = startApp(DEMO_BIN, addr, extraArgs, env);
  const srv = await app;
  servers.add(srv);
  return srv;
}

// stopDemo ends the demo with signal and waits for it.
function stopDemo(srv, signal) {
  servers.delete(srv);
  return stopApp(srv, signal);
}

async function stats(url) {
  const r = await fetch(url + "/api/ws/stats");
  return r.json();
}

async function text(page, sel) {
  return (await page.textContent(sel)) ?? "";
}

async function waitText(page, label, sel, pred, what) {
  step = `${label}: ${sel} ${what}`;
  await page.waitForFunction(
    ([s, p]) => {
      const t = document.querySelector(s)?.textContent ?? "";
      return p.startsWith("=") ? t === p.slice(1) : t.includes(p);
    },
    [sel, pred],
  );
  log(`${label}: ${sel} ${what}`);
}

async function waitChat(page, label, line) {
  step = `${label} shows the chat line ${JSON.stringify(line)}`;
  await page.waitForFunction((l) => [...document.querySelectorAll("#messages li.msg")].some((li) => li.dataset.text === l), line);
  log(`${label}: sees ${JSON.stringify(line)}`);
}

async function signIn(page, label, name) {
  step = `${label} signs in as ${name}`;
  await page.fill("#name", name);
  await page.click("#signin-button");
  await waitText(page, label, "#status", `connected as ${name}`, `says connected as ${name}`);
  await waitText(page, label, "#who", "In lobby", "shows the room");
}

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  step = "start the demo";
  let demo = await startDemo("127.0.0.1:0", [], { RUSHWS_DEMO_KEY: KEY });
  log(`demo: ${demo.url}`);

  step = `launch ${CHROMIUM}`;
  browser = await launch({ viewport: { width: 1400, height: 660 }, timeout: STEP_TIMEOUT_MS });
  log(`browser: Chromium ${browser.version}`);

  // The page connects on load, anonymously, and the echo box works.
  step = "open page A";
  const a = await browser.open("page A", demo.url + "/");
  await waitText(a, "page A", "#status", "=connected (anonymous)", "connects on load");
  step = "page A echoes";
  await a.fill("#echo-text", "hello, echo");
  await a.press("#echo-text", "Enter");
  await a.waitForSelector('#echo-log li.reply[data-reply="hello, echo"]');
  log("page A: the echo box answers");

  const tag = Math.random().toString(36).slice(2, 7);
  const ada = `ada-${tag}`;
  const bob = `bob-${tag}`;
  await signIn(a, "page A", ada);
  const b = await browser.open("page B", demo.url + "/");
  await waitText(b, "page B", "#status", "connected", "connects on load");
  await signIn(b, "page B", bob);
  await waitText(a, "page A", "#messages", `${bob} joined lobby (2 here)`, "announces B");

  // Typing indicators reach the other page only.
  step = "page B types";
  await b.click("#text");
  await b.keyboard.type("hi ", { delay: 30 });
  await waitText(a, "page A", "#typing", `${bob} is typing`, "shows B typing");
  if ((await text(b, "#typing")).includes(bob)) throw new Error("page B shows its own typing indicator");

  // Chat both ways; markup stays text.
  step = "page B sends";
  await b.keyboard.type(`<b>${ada}</b>`);
  await b.press("#text", "Enter");
  await waitChat(a, "page A", `${bob}: hi <b>${ada}</b>`);
  await waitChat(b, "page B", `${bob}: hi <b>${ada}</b>`);
  if ((await a.locator("#messages b").count()) !== (await a.locator("#messages li.msg").count())) {
    throw new Error("page A parsed message text as HTML");
  }
  await waitText(a, "page A", "#typing", "=", "clears the indicator after the message");
  step = "page A answers with the Send button";
  await a.fill("#text", `hello ${bob}`);
  await a.click("#send");
  await waitChat(b, "page B", `${ada}: hello ${bob}`);

  // The stats panel polls the stats handler every second.
  await waitText(a, "page A", "#stat-connections", "=2", "shows 2 connections");
  await waitText(a, "page A", "#stat-rooms", "=1", "shows 1 room");
  step = "let the chart fill";
  await a.bringToFront(); // a background tab's timing is throttled
  for (let i = 0; i < 6; i++) {
    await a.fill("#echo-text", `ping ${i}`);
    await a.press("#echo-text", "Enter");
    await sleep(450);
  }
  await a.waitForFunction(() => Number(document.querySelector("#stat-in").textContent) >= 0);
  await a.screenshot({ path: join(ARTIFACTS, "demo.png") });
  await b.screenshot({ path: join(ARTIFACTS, "demo-page-b.png") });
  log(`screenshots in ${ARTIFACTS}`);

  // A page from another origin is refused (403 before the upgrade, which a
  // browser reports as a failed connection).
  step = "serve a page from another origin";
  const wsURL = demo.url.replace(/^http/, "ws") + "/ws";
  const foreign = createServer((req, res) => {
    res.setHeader("Content-Type", "text/html; charset=utf-8");
    res.end(`<!doctype html><title>foreign</title><p id="result">pending</p><script>
      const ws = new WebSocket(${JSON.stringify(wsURL)}, ["rushws-demo.v1"]);
      ws.onopen = () => { document.getElementById("result").textContent = "open"; };
      ws.onclose = (e) => { document.getElementById("result").textContent = "closed " + e.code; };
    </script>`);
  });
  await new Promise((r) => foreign.listen(0, "127.0.0.1", r));
  const before = await stats(demo.url);
  try {
    const f = await browser.open("foreign page", `http://127.0.0.1:${foreign.address().port}/`);
    await waitText(f, "foreign page", "#result", "=closed 1006", "is refused");
    await f.close();
  } finally {
    foreign.close();
  }
  const after = await stats(demo.url);
  const refused = (after.rejected?.origin ?? 0) - (before.rejected?.origin ?? 0);
  if (refused !== 1) throw new Error(`stats.rejected.origin grew by ${refused}, want 1`);
  log("the demo counted the foreign origin as refused");

  // Kill the server: the pages notice and retry; what A sends meanwhile
  // waits, and goes out after the restart, once A is back in its room.
  step = "kill the demo";
  const addr = demo.addr;
  await stopDemo(demo, "SIGKILL");
  await waitText(a, "page A", "#status", "reconnecting", "notices the outage");
  await waitText(b, "page B", "#status", "reconnecting", "notices the outage");
  step = "page A sends while the server is down";
  await a.fill("#text", "sent while the server was down");
  await a.press("#text", "Enter");
  await a.fill("#text", "and a second one");
  await a.press("#text", "Enter");
  await waitText(a, "page A", "#queued", "=2 waiting to be sent", "holds 2 messages");
  await sleep(1000);
  step = "restart the demo on the same address";
  demo = await startDemo(addr, [], { RUSHWS_DEMO_KEY: KEY });
  await waitText(a, "page A", "#status", `connected as ${ada}`, "reconnects by itself");
  await waitText(b, "page B", "#status", `connected as ${bob}`, "reconnects by itself");
  await waitChat(a, "page A", `${ada}: sent while the server was down`);
  await waitChat(a, "page A", `${ada}: and a second one`);
  await waitText(a, "page A", "#queued", "=", "has nothing waiting");
  step = "check the order of the queued messages";
  const lines = await a.$$eval("#messages li.msg", (lis) => lis.map((li) => li.dataset.text));
  const i1 = lines.lastIndexOf(`${ada}: sent while the server was down`);
  const i2 = lines.lastIndexOf(`${ada}: and a second one`);
  if (!(i1 >= 0 && i2 > i1)) throw new Error(`queued messages out of order: ${JSON.stringify(lines)}`);
  step = "page B is back in the room";
  await waitText(b, "page B", "#who", "In lobby", "is back in the room");
  await a.fill("#text", "after the restart");
  await a.press("#text", "Enter");
  await waitChat(b, "page B", `${ada}: after the restart`);
  await a.close();
  await b.close();

  // An expired token: the server closes with 4401, the page says so and
  // does not retry.
  step = "start a demo whose tokens live 2 seconds";
  const short = await startDemo("127.0.0.1:0", ["-token-ttl", "2s"]);
  try {
    const c = await browser.open("page C", short.url + "/");
    await waitText(c, "page C", "#status", "connected", "connects on load");
    await signIn(c, "page C", `cy-${tag}`);
    await waitText(c, "page C", "#status", "token expired", "shows the auth failure");
    const opens = await c.evaluate(() => document.body.dataset.opens);
    const accepted = (await stats(short.url)).accepted;
    await sleep(3000); // long enough for several retries, if there were any
    const now = await stats(short.url);
    if (now.accepted !== accepted) throw new Error(`the page reconnected after 4401: accepted ${accepted} -> ${now.accepted}`);
    if ((await c.evaluate(() => document.body.dataset.opens)) !== opens) throw new Error("the page opened a new connection after 4401");
    if (!(await text(c, "#status")).includes("token expired")) throw new Error(`status changed to ${await text(c, "#status")}`);
    await c.screenshot({ path: join(ARTIFACTS, "demo-token-expired.png") });
    log(`page C: stays signed out (accepted stays ${accepted})`);
  } finally {
    await stopDemo(short, "SIGTERM");
  }

  if (browser.errors.length > 0) throw new Error(`errors in the pages:\n    ${browser.errors.join("\n    ")}`);
  await stopDemo(demo, "SIGTERM");
}

try {
  await main();
  console.log("PASS demo");
  process.exitCode = 0;
} catch (err) {
  console.error(`FAIL demo: during: ${step}\n  ${err && err.message ? err.message.split("\n").join("\n  ") : err}`);
  for (const s of servers) if (s.stderr()) console.error(`  demo stderr (last lines):\n    ${s.stderr().trim().split("\n").slice(-15).join("\n    ")}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  for (const s of [...servers]) await stopDemo(s, "SIGKILL");
  clearTimeout(watchdog);
}
