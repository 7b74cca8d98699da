// package.mjs runs the packed @rushws/client against a real rushws server,
// as its users run it: e2e/package.sh packs client/, installs the tarball
// into e2e/vite, type-checks and builds the Vite app, then runs
//
//	SERVER_BIN=/tmp/testserver APP_DIR=/tmp/dist node e2e/package.mjs
//
// It starts the Go test server (e2e/testserver) with the built app under
// /app/, and checks that:
//   - the server's /rushws.js (the Go package's embedded copy) is byte for
//     byte the rushws.js the tarball installed;
//   - e2e/vite/node.mjs, which imports the package by name with npm ws as
//     its WebSocket, exchanges events with acks both ways and reads the
//     package's version through "@rushws/client/package.json";
//   - the built page, in Chromium, does the same with the client bundled
//     into its own script (it never loads /rushws.js), without errors;
//   - a page without a build step (public/plain.html), whose import map
//     sends the bare name "@rushws/client" to the server's /rushws.js,
//     runs the same import line (docs/client-package.md shows it).
// It exits 0 when every step passes, 1 with the failing step otherwise.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { startApp, stopApp } from "./app.mjs";
import { CHROMIUM, launch } from "./browser.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const SERVER_BIN = process.env.SERVER_BIN;
const APP_DIR = process.env.APP_DIR;
const installed = join(here, "vite", "node_modules", "@rushws", "client");
const TOTAL_TIMEOUT_MS = 60_000;

if (!SERVER_BIN || !APP_DIR) {
  console.error("package.mjs: set SERVER_BIN (the built e2e/testserver) and APP_DIR (the built e2e/vite); bash e2e/package.sh does");
  process.exit(2);
}

let step = "start";
let server;
let browser;
const log = (msg) => console.log(`  ${msg}`);
const watchdog = setTimeout(() => {
  console.error(`FAIL package: timed out after ${TOTAL_TIMEOUT_MS / 1000}s during: ${step}`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

function assertEqual(got, want, what) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

async function stats(url) {
  const r = await fetch(url + "/api/ws/stats");
  if (!r.ok) throw new Error(`GET /api/ws/stats: ${r.status}`);
  return r.json();
}

async function main() {
  const pkg = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
  step = "start the test server with the built app";
  server = await startApp(SERVER_BIN, "127.0.0.1:0", ["-app-dir", APP_DIR]);
  const ws = server.url.replace(/^http/, "ws") + "/ws";
  log(`server: ${server.url}`);

  step = "compare the server's /rushws.js with the installed package's";
  const served = Buffer.from(await (await fetch(server.url + "/rushws.js")).arrayBuffer());
  if (!served.equals(readFileSync(join(installed, "rushws.js")))) {
    throw new Error("GET /rushws.js (the Go package's embedded file) differs from the rushws.js that npm installed");
  }
  log(`the Go package serves the file npm installed (${served.length} bytes)`);

  const before = await stats(server.url);

  step = "run e2e/vite/node.mjs (imports @rushws/client by name, npm ws)";
  const { stdout } = await promisify(execFile)(process.execPath, [join(here, "vite", "node.mjs"), ws], { timeout: 20_000 });
  const got = JSON.parse(stdout.trim().split("\n").pop());
  assertEqual(got.version, pkg.version, "the version node.mjs read from @rushws/client/package.json");
  assertEqual(got.echo, { text: "héllo from node", n: 42 }, "node.mjs: the server's ack reply to echo");
  assertEqual(got.answer, { data: "6 times 7? 42" }, "node.mjs: the answer (the client's ack reply to the server's question)");
  log(`node: @rushws/client ${got.version} connected as ${got.id}, echo and question acked`);

  step = `launch ${CHROMIUM}`;
  browser = await launch({ timeout: 15_000 });
  const requested = [];
  browser.context.on("request", (req) => requested.push(new URL(req.url()).pathname));
  step = "open the built Vite page";
  const page = await browser.open("vite page", server.url + "/app/");
  step = "the page exchanges events with acks";
  await page.waitForFunction(() => document.getElementById("result")?.textContent !== "pending");
  const text = async (id) => (await page.textContent(`#${id}`)) ?? "";
  const result = await text("result");
  if (result !== "ok") throw new Error(`the page says ${JSON.stringify(result)} (echo ${JSON.stringify(await text("echo"))}, answer ${JSON.stringify(await text("answer"))}, state ${JSON.stringify(await text("state"))})`);
  assertEqual(await text("echo"), "héllo from vite 42", "the page's echo");
  assertEqual(await text("answer"), "6 times 7? 42", "the page's answer");
  if (!(await text("id"))) throw new Error("the page shows no connection id");
  log(`browser (Chromium ${browser.version}): connected as ${await text("id")}, echo and question acked`);

  step = "check what the page loaded";
  if (requested.includes("/rushws.js")) throw new Error("the page loaded /rushws.js; the client should be in its bundle");
  const scripts = requested.filter((p) => p.endsWith(".js"));
  if (scripts.length === 0 || !scripts.every((p) => p.startsWith("/app/assets/"))) {
    throw new Error(`the page's scripts are ${JSON.stringify(scripts)}, want only the bundle under /app/assets/`);
  }
  if (browser.errors.length > 0) throw new Error(`errors in the page:\n    ${browser.errors.join("\n    ")}`);
  log(`the page loaded only its bundle: ${scripts.join(", ")}`);

  step = "a page with an import map, no build step (e2e/vite/public/plain.html)";
  const p2 = await browser.open("import-map page", server.url + "/app/plain.html");
  await p2.waitForFunction(() => document.getElementById("result")?.textContent !== "pending");
  const r2 = (await p2.textContent("#result")) ?? "";
  if (r2 !== "ok") throw new Error(`the import-map page says ${JSON.stringify(r2)}`);
  if (!requested.includes("/rushws.js")) throw new Error("the import-map page did not load /rushws.js");
  if (browser.errors.length > 0) throw new Error(`errors in the page:\n    ${browser.errors.join("\n    ")}`);
  log('browser: a page whose import map points "@rushws/client" at the server\'s /rushws.js connected and got its ack');

  step = "read the server's counters";
  const after = await stats(server.url);
  const accepted = after.accepted - before.accepted;
  if (accepted !== 3) throw new Error(`the server accepted ${accepted} connections, want 3 (node.mjs and the two pages)`);
}

try {
  await main();
  console.log("PASS package");
  process.exitCode = 0;
} catch (err) {
  console.error(`FAIL package: during: ${step}\n  ${err && err.message ? err.message.split("\n").join("\n  ") : err}`);
  if (err?.stderr) console.error(`  its stderr:\n    ${String(err.stderr).trim().split("\n").join("\n    ")}`);
  if (server?.stderr()) console.error(`  server stderr (last lines):\n    ${server.stderr().trim().split("\n").slice(-15).join("\n    ")}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  if (server) await stopApp(server, "SIGTERM");
  clearTimeout(watchdog);
}
