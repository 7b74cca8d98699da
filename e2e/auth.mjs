// auth.mjs tests the JS client's authentication in a real browser (Debian's
// Chromium under playwright-core, launched by browser.mjs) against the Go
// test server (e2e/testserver), which it starts itself. A page imports
// /rushws.js and connects with options.token, a function that fetches a
// token from the server's GET /token before every attempt:
//
//  1. expiry: tokens live 1 to 2 s; the server closes with 4401 "token
//     expired" when one passes, and the page reconnects with a fresh token,
//     twice, and still gets its acks. The server counts 3 handshakes.
//  2. removed user: POST /users/remove closes the page's connection with
//     4401 "user removed" and refuses the user from then on. The page tries
//     once more with a fresh token, stops, and shows why; over the next 3
//     seconds the server sees no further handshake (2 in all).
//  3. refused before the upgrade: on a route that answers 401 before the
//     upgrade (no CloseOnFailure), the browser sees only 1006; the page's
//     maxConnectFailures (3) ends the retries with a connect_failed error.
//
//	TESTSERVER_BIN=/tmp/testserver node e2e/auth.mjs
//
// run.sh builds the server. It exits 0 when every step passes, and 1 with
// the failing step otherwise, within about 60 seconds.
import { spawn } from "node:child_process";

import { CHROMIUM, launch } from "./browser.mjs";

const BIN = process.env.TESTSERVER_BIN;
const TOTAL_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 15_000;
const QUIET_MS = 3_000; // how long a stopped page must stay quiet

if (!BIN) {
  console.error("auth.mjs: set TESTSERVER_BIN to the built e2e/testserver binary (go build -o /tmp/testserver ./e2e/testserver)");
  process.exit(2);
}

let browser;
let server;
let step = "start";
const watchdog = setTimeout(() => {
  console.error(`FAIL auth: timed out after ${TOTAL_TIMEOUT_MS / 1000}s during: ${step}`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

function log(msg) {
  console.log(`  ${msg}`);
}

// startServer runs the test server and resolves with its base URL.
function startServer() {
  const proc = spawn(BIN, ["-addr", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stderr.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    proc.on("exit", (code) => reject(new Error(`test server exited with ${code}; stderr:\n${err}`)));
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (!m) return;
      proc.removeAllListeners("exit");
      resolve({ url: m[1], proc, stderr: () => err });
    });
  });
}

async function attempts(client) {
  const r = await fetch(`${server.url}/api/attempts?client=${encodeURIComponent(client)}`);
  if (!r.ok) throw new Error(`GET /api/attempts: ${r.status}`);
  return (await r.json()).attempts;
}

function check(ok, what, got) {
  if (!ok) throw new Error(`${what}; got ${JSON.stringify(got)}`);
}

// openPage loads /auth.html and starts a client in it: cfg is {route,
// client, sub, ttl, options}. The page keeps what happened in window.t and
// shows the client's state in #status, as an app would.
async function openPage(label, cfg) {
  step = `${label}: open the page`;
  const page = await browser.open(label, `${server.url}/auth.html`);
  await page.evaluate(async (cfg) => {
    const { connect } = await import("/rushws.js");
    const status = document.querySelector("#status");
    const t = { tokenCalls: 0, welcomes: 0, opens: 0, closes: [], errors: [] };
    window.t = t;
    const url = `ws://${location.host}${cfg.route}?client=${encodeURIComponent(cfg.client)}`;
    const ws = connect(url, {
      protocols: ["e2e.v1"],
      initialDelay: 100,
      maxDelay: 400,
      ...cfg.options,
      token: async () => {
        t.tokenCalls++;
        const r = await fetch(`/token?sub=${encodeURIComponent(cfg.sub)}&ttl=${encodeURIComponent(cfg.ttl)}`);
        if (!r.ok) throw new Error(`GET /token: ${r.status}`);
        return r.text();
      },
    });
    window.ws = ws;
    ws.on("welcome", () => t.welcomes++);
    ws.on("open", (info) => {
      t.opens++;
      t.protocol = info.protocol;
      status.textContent = "connected";
    });
    ws.on("close", (info) => {
      t.closes.push({ code: info.code, reason: info.reason, willReconnect: info.willReconnect, why: info.why });
      status.textContent = info.willReconnect ? `reconnecting: ${info.why}` : `stopped (${info.code} ${info.reason}): ${info.why}`;
    });
    ws.on("error", (err) => t.errors.push({ code: err.code, message: err.message }));
  }, cfg);
  return page;
}

const state = (page) => page.evaluate(() => ({ ...window.t, state: window.ws.state, status: document.querySelector("#status").textContent }));

async function expiry(tag) {
  const client = `expiry-${tag}`;
  const page = await openPage("expiry", { route: "/ws/auth/users", client, sub: `ada-${tag}`, ttl: "2s" });
  step = "expiry: the page connects";
  await page.waitForFunction(() => window.t.welcomes === 1);
  log("expiry: connected with a token that lives 1 to 2 s");
  for (let n = 2; n <= 3; n++) {
    step = `expiry: the token expires and the page reconnects with a fresh one (connection ${n})`;
    await page.waitForFunction((n) => window.t.welcomes === n && window.ws.state === "open", n);
    const echoed = await page.evaluate((n) => window.ws.emitWithAck("echo", { n }), n);
    check(echoed && echoed.n === n, `an ack on connection ${n}`, echoed);
  }
  const s = await state(page);
  check(s.closes.length === 2 && s.closes.every((c) => c.code === 4401 && c.reason === "token expired" && c.willReconnect), "two 4401 token expired closes, each reconnected", s.closes);
  check(s.closes.every((c) => /with a fresh token/.test(c.why)), "each close says a fresh token is used", s.closes);
  check(s.tokenCalls === 3, "one token per connection", s.tokenCalls);
  check(s.protocol === "e2e.v1", "the app's subprotocol is selected", s.protocol);
  const n = await attempts(client);
  check(n === 3, "the server saw 3 handshakes", n);
  log(`expiry: 2 expiries, each answered with a fresh token; 3 handshakes, acks on each connection`);
  await page.evaluate(() => window.ws.close());
  await page.close();
}

async function removed(tag) {
  const client = `removed-${tag}`;
  const sub = `bob-${tag}`;
  const page = await openPage("removed", { route: "/ws/auth/users", client, sub, ttl: "1m" });
  step = "removed: the page connects";
  await page.waitForFunction(() => window.t.welcomes === 1);
  step = "removed: POST /users/remove";
  const r = await fetch(`${server.url}/users/remove?sub=${encodeURIComponent(sub)}`, { method: "POST" });
  check(r.status === 204, "POST /users/remove answers 204", r.status);
  step = "removed: the page stops and shows why";
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("stopped"));
  const s = await state(page);
  check(/^stopped \(4401 user removed\): .*again with a fresh token/.test(s.status), "the page shows why it stopped", s.status);
  check(s.state === "closed", "the client is closed for good", s.state);
  check(s.closes.length === 2 && s.closes[0].willReconnect && !s.closes[1].willReconnect, "one retry with a fresh token, then stop", s.closes);
  log(`removed: the page shows "${s.status}"`);
  step = `removed: no further handshake for ${QUIET_MS / 1000} s`;
  const until = Date.now() + QUIET_MS;
  while (Date.now() < until) {
    const n = await attempts(client);
    check(n === 2, "the server saw 2 handshakes in all (before the removal, and the one retry)", n);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  log(`removed: 2 handshakes in all; none in the ${QUIET_MS / 1000} s after the page stopped`);
  await page.close();
}

async function refused(tag) {
  const client = `refused-${tag}`;
  const page = await openPage("refused", {
    route: "/ws/auth/strict",
    client,
    sub: `cy-${tag}`,
    ttl: "-1m", // every token is already expired: 401 before the upgrade
    options: { maxConnectFailures: 3, initialDelay: 50, maxDelay: 200 },
  });
  step = "refused: the page gives up after 3 failed handshakes";
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("stopped"));
  const s = await state(page);
  check(s.opens === 0, "never opened", s.opens);
  check(s.closes.length === 3 && s.closes.every((c) => c.code === 1006), "three 1006 closes (all a browser can see of a 401)", s.closes);
  check(/gave up after 3 attempts in a row failed before the connection opened/.test(s.status), "the page shows why it stopped", s.status);
  check(s.errors.filter((e) => e.code === "connect_failed").length === 1, "one connect_failed error", s.errors);
  const n = await attempts(client);
  check(n === 3, "the server saw 3 handshakes", n);
  log(`refused: 3 handshakes refused with 401 (1006 in the page), then "${s.status}"`);
  await page.close();
}

async function main() {
  step = `start ${BIN}`;
  server = await startServer();
  log(`server: ${server.url}`);
  step = `launch ${CHROMIUM}`;
  browser = await launch({ timeout: STEP_TIMEOUT_MS });
  log(`browser: Chromium ${browser.version}`);
  const tag = Math.random().toString(36).slice(2, 8);
  await expiry(tag);
  await removed(tag);
  await refused(tag);
  if (browser.errors.length > 0) throw new Error(`errors in the page:\n    ${browser.errors.join("\n    ")}`);
}

try {
  await main();
  console.log("PASS auth: an expired token is replaced, a removed user stops after one retry and says why, refused handshakes end at maxConnectFailures");
  process.exitCode = 0;
} catch (err) {
  console.error(`FAIL auth: during: ${step}\n  ${err && err.message ? err.message.split("\n").join("\n  ") : err}`);
  if (server) console.error(`  server stderr:\n${server.stderr()}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  if (server) server.proc.kill("SIGTERM");
  clearTimeout(watchdog);
}
