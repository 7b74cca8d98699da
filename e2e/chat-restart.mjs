// chat-restart.mjs checks that a chat example's page survives a server
// restart, in a real browser (Debian's Chromium under playwright-core):
//
//	APP_BIN=/tmp/echo-chat node e2e/chat-restart.mjs
//
// It starts the app, opens the page (which connects on load), stops the
// app with SIGTERM (every page gets 1001 "server shutting down"), sends a
// message while it is down, starts the app again on the same address, and
// expects the page to reconnect by itself and deliver the message. It exits
// 0 when that happens, 1 with the failing step otherwise.
import { startApp, stopApp } from "./app.mjs";
import { launch } from "./browser.mjs";

const APP_BIN = process.env.APP_BIN;
const TOTAL_TIMEOUT_MS = 60_000;

if (!APP_BIN) {
  console.error("chat-restart.mjs: set APP_BIN to a built chat example");
  process.exit(2);
}

let step = "start";
let browser;
let app;
const watchdog = setTimeout(() => {
  console.error(`FAIL restart ${APP_BIN}: timed out after ${TOTAL_TIMEOUT_MS / 1000}s during: ${step}`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);
const log = (msg) => console.log(`  ${msg}`);

async function waitStatus(page, pred, what) {
  step = `the page ${what}`;
  await page.waitForFunction((p) => (document.querySelector("#status")?.textContent ?? "").startsWith(p), pred);
  log(`the page ${what}`);
}

async function main() {
  step = "start the app";
  app = await startApp(APP_BIN, "127.0.0.1:0");
  browser = await launch({ timeout: 15_000 });
  const name = `rita-${Math.random().toString(36).slice(2, 7)}`;
  const page = await browser.open("page", `${app.url}/?room=lobby&name=${name}`);
  await waitStatus(page, "connected", "connects on load");

  step = "stop the app with SIGTERM";
  const addr = app.addr;
  await stopApp(app, "SIGTERM");
  await waitStatus(page, "reconnecting", "notices the shutdown and retries");
  step = "send while the app is down";
  await page.fill("#text", "typed while the server was down");
  await page.press("#text", "Enter");
  await page.waitForFunction(() => document.querySelector("#queued")?.textContent === "1 waiting to be sent");
  log("the page holds the message");

  step = "start the app again on the same address";
  app = await startApp(APP_BIN, addr);
  await waitStatus(page, "connected", "reconnects by itself");
  step = "the held message arrives";
  const line = `${name}: typed while the server was down`;
  await page.waitForFunction((l) => [...document.querySelectorAll("#messages li.msg")].some((li) => li.textContent === l), line);
  log(`the page shows ${JSON.stringify(line)}`);
  if (browser.errors.length > 0) throw new Error(`errors in the page:\n    ${browser.errors.join("\n    ")}`);
}

try {
  await main();
  console.log(`PASS restart ${APP_BIN}`);
  process.exitCode = 0;
} catch (err) {
  console.error(`FAIL restart ${APP_BIN}: during: ${step}\n  ${err && err.message ? err.message.split("\n").join("\n  ") : err}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  if (app) await stopApp(app, "SIGKILL");
  clearTimeout(watchdog);
}
