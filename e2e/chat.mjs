// chat.mjs drives a running chat example (examples/echo-chat, gin-chat or
// echo5-chat) in a real browser: Debian's Chromium under
// playwright-core. Two tabs open the page, which connects on load, in room
// "lobby" under different names and chat both ways; each must see the
// other's message, rendered as text.
//
//	BASE_URL=http://127.0.0.1:8080 node e2e/chat.mjs
//
// It builds and starts nothing itself (e2e/run.sh does). It exits 0 when
// every step passes, and 1 with the failing step otherwise, within about
// 60 seconds in all.
import { CHROMIUM, launch } from "./browser.mjs";

const BASE_URL = process.env.BASE_URL;
const TOTAL_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 10_000;

if (!BASE_URL) {
  console.error("chat.mjs: set BASE_URL to the app's address, e.g. BASE_URL=http://127.0.0.1:8080");
  process.exit(2);
}

let browser;
let step = "start";

const watchdog = setTimeout(() => {
  console.error(`FAIL ${BASE_URL}: timed out after ${TOTAL_TIMEOUT_MS / 1000}s during: ${step}`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

function log(msg) {
  console.log(`  ${msg}`);
}

// open loads the page for room and name (?room=&name=); it connects by
// itself, and its own "joined" notice shows it is in.
async function open(label, room, name) {
  step = `${label} opens ${room} as ${name}`;
  const page = await browser.open(label, `${BASE_URL}/?room=${encodeURIComponent(room)}&name=${encodeURIComponent(name)}`);
  await page.waitForFunction(() => document.querySelector("#status")?.textContent === "connected");
  step = `${label} sees itself join ${room}`;
  await page.waitForFunction(
    (p) => [...document.querySelectorAll("#messages li.notice")].some((li) => li.textContent.startsWith(p)),
    `${name} joined ${room} (`,
  );
  log(`${label}: connected to ${room} as ${name} on load`);
  return page;
}

// waitForItem waits until #messages holds an <li> of class cls whose text
// is exactly text.
async function waitForItem(page, label, cls, text) {
  step = `${label} shows <li class="${cls}">${text}</li>`;
  await page.waitForFunction(
    ([c, t]) => [...document.querySelectorAll(`#messages li.${c}`)].some((li) => li.textContent === t),
    [cls, text],
  );
  log(`${label}: sees ${JSON.stringify(text)}`);
}

async function main() {
  step = `launch ${CHROMIUM}`;
  browser = await launch({ timeout: STEP_TIMEOUT_MS });
  log(`browser: Chromium ${browser.version}`);

  const tag = Math.random().toString(36).slice(2, 8);
  const alice = `alice-${tag}`;
  const bob = `bob-${tag}`;
  const a = await open("tab A", "lobby", alice);
  const b = await open("tab B", "lobby", bob);
  await waitForItem(a, "tab A", "notice", `${bob} joined lobby (2 here)`);

  // A's message reaches B and A itself; markup in it stays text.
  const hello = `hello <b>from</b> ${alice}`;
  step = "tab A sends with Enter";
  await a.fill("#text", hello);
  await a.press("#text", "Enter");
  await waitForItem(b, "tab B", "msg", `${alice}: ${hello}`);
  await waitForItem(a, "tab A", "msg", `${alice}: ${hello}`);
  step = "check the markup was not parsed";
  const bolds = await b.locator("#messages b").count();
  if (bolds !== 0) throw new Error(`tab B parsed message text as HTML (${bolds} <b> elements)`);
  if ((await a.inputValue("#text")) !== "") throw new Error("tab A: #text was not cleared after sending");

  // B answers with the Send button.
  const answer = `hi ${alice}, ${bob} here`;
  step = "tab B sends with the Send button";
  await b.fill("#text", answer);
  await b.click("#send");
  await waitForItem(a, "tab A", "msg", `${bob}: ${answer}`);
  await waitForItem(b, "tab B", "msg", `${bob}: ${answer}`);

  // Closing a tab is announced to the room.
  step = "tab B closes";
  await b.close();
  await waitForItem(a, "tab A", "notice", `${bob} left lobby (1 here)`);

  if (browser.errors.length > 0) throw new Error(`errors in the page:\n    ${browser.errors.join("\n    ")}`);
}

try {
  await main();
  console.log(`PASS ${BASE_URL}`);
  process.exitCode = 0;
} catch (err) {
  console.error(`FAIL ${BASE_URL}: during: ${step}\n  ${err && err.message ? err.message.split("\n").join("\n  ") : err}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  clearTimeout(watchdog);
}
