// @ts-check
// demo.js is the page's code: the echo box, the chat and the stats panel,
// on one connection made with the rushws JS client. Everything other users
// send is shown with textContent, never parsed as HTML.
//
// It runs as is, without a build step; its types come from JSDoc: the
// client's (client/rushws.d.ts) and the protocol's, generated from the Go
// declarations in protocol.go into protocol.d.ts beside this file. tsc
// --checkJs checks it in e2e (e2e/typed/), so an event name, a data shape
// or an ack reply that does not match the Go side fails there.

// @ts-ignore: the Go server serves the client at this URL; tsc takes its types from DemoClient below.
import { connect } from "/rushws.js?v={{version}}";

/** @typedef {import("./protocol.js").DemoServerEvents} ServerEvents what the server emits */
/** @typedef {import("./protocol.js").DemoClientEvents} ClientEvents what the page emits, and the acks */
/** @typedef {import("../../../client/rushws.js").Client<ServerEvents, ClientEvents>} DemoClient */
/** @typedef {import("../../../client/rushws.js").OpenInfo} OpenInfo */
/** @typedef {import("../../../client/rushws.js").CloseInfo} CloseInfo */
/** @typedef {import("../../../client/rushws.js").RushwsError} RushwsError */

/** @type {(id: string) => any} the page's elements, untyped: the protocol is what is checked */
const $ = (id) => document.getElementById(id);
const WS_URL = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const PROTOCOL = "rushws-demo.v1";
const AUTH_KEY = "rushws-demo-auth";

let auth = loadAuth(); // { token, name, expiresAt } or null
/** @type {DemoClient | null} */
let ws = null; // the current client
let room = ""; // the room joined (or to join once connected)
let opens = 0; // connections opened, for the curious and for tests

// ---- connection -----------------------------------------------------------

function start() {
  if (ws) ws.close(1000, "switching user");
  /** @type {DemoClient} */
  const client = connect(WS_URL, {
    // Called before every (re)connection, so a new sign-in is picked up.
    protocols: () => (auth ? [PROTOCOL, "bearer." + auth.token] : [PROTOCOL]),
    initialDelay: 500,
    maxDelay: 8000,
    queueSize: 100,
  });
  ws = client;
  // Listeners of an old client (after a sign-in switched) are ignored.
  /**
   * @template T
   * @param {(arg: T) => void} fn
   * @returns {(arg: T) => void}
   */
  const mine = (fn) => (arg) => {
    if (ws === client) fn(arg);
  };
  client.on("open", mine(onOpen));
  client.on("close", mine(onClose));
  client.on("error", mine(onError));
  client.on("hello", mine(onHello));
  client.on("joined", mine((p) => {
    notice(`${p.name} joined ${p.room} (${p.members} here)`);
    if (p.room === room) showMembers([...members, p.name]);
  }));
  client.on("left", mine((p) => {
    notice(`${p.name} left ${p.room} (${p.members} here)`);
    setTyping(p.name, false);
    if (p.room === room) {
      const rest = [...members];
      rest.splice(rest.indexOf(p.name), rest.includes(p.name) ? 1 : 0);
      showMembers(rest);
    }
  }));
  client.on("chat", mine(onChat));
  client.on("typing", mine((t) => setTyping(t.name, t.typing)));
  setStatus("connecting", "connecting…");
}

/** @param {OpenInfo} info */
function onOpen(info) {
  opens++;
  document.body.dataset.opens = String(opens);
  $("reconnect").hidden = true;
  setStatus("open", auth ? `connected as ${auth.name}` : "connected (anonymous)");
  if (info.recovered) {
    // The server restored the room and sent what was missed (already shown).
    notice(info.missed > 0 ? `reconnected; ${info.missed} missed message${info.missed === 1 ? "" : "s"} delivered` : "reconnected");
  } else {
    if (info.reconnected) notice(info.reason ? `reconnected (not recovered: ${info.reason})` : "reconnected");
    // Sent before the queued messages go out, so they land in the room.
    if (auth && room) join(room, true);
  }
  setTimeout(showQueued, 0); // the queue goes out right after "open" listeners
}

/** @param {CloseInfo} info */
function onClose(info) {
  showQueued();
  if (info.willReconnect) {
    setStatus("reconnecting", `reconnecting in ${(info.delay / 1000).toFixed(1)} s (attempt ${info.attempt}; closed ${info.code}${info.reason ? ": " + info.reason : ""})`);
    return;
  }
  if (info.why === "closed by the client") return;
  $("reconnect").hidden = false;
  if (info.code === 4401) {
    const reason = info.reason || "authentication failed";
    signedOut();
    setStatus("closed", `signed out: ${reason}. Sign in again.`);
    notice(`disconnected: ${reason} (4401); not reconnecting`, "error");
    return;
  }
  setStatus("closed", `disconnected: ${info.why} (${info.code}${info.reason ? ": " + info.reason : ""})`);
}

/** @param {RushwsError} err */
function onError(err) {
  if (err.code === "transport") return; // the close event says the rest
  notice(`error: ${err.message} (${err.code})`, "error");
}

/** @param {import("./protocol.js").Hello} h */
function onHello(h) {
  if (auth && h.name !== auth.name) notice(`the server knows you as ${h.name || "anonymous"}`, "error");
}

function setStatus(state, text) {
  $("dot").className = state;
  $("status").textContent = text;
  document.body.dataset.state = state;
}

// ---- sign in --------------------------------------------------------------

function loadAuth() {
  try {
    const a = JSON.parse(sessionStorage.getItem(AUTH_KEY) || "null");
    if (a && a.token && Date.parse(a.expiresAt) > Date.now()) return a;
  } catch {
    // fall through: no usable token
  }
  sessionStorage.removeItem(AUTH_KEY);
  return null;
}

async function signIn(name) {
  const r = await fetch("/api/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.message || `sign-in failed (${r.status})`);
  auth = body;
  sessionStorage.setItem(AUTH_KEY, JSON.stringify(auth));
  room = $("room").value.trim() || "lobby";
  showUser();
  start();
}

function signedOut() {
  auth = null;
  room = "";
  sessionStorage.removeItem(AUTH_KEY);
  showUser();
}

function showUser() {
  $("user").textContent = auth ? `signed in as ${auth.name}` : "";
  $("name").hidden = !!auth;
  $("signin-button").hidden = !!auth;
  $("signout").hidden = !auth;
  $("signin-button").textContent = "Sign in";
  const canChat = !!auth && !!room;
  $("text").disabled = !canChat;
  $("send").disabled = !canChat;
  $("join").disabled = !auth;
  if (!auth) {
    $("who").textContent = "Sign in to chat.";
    typing.clear();
    renderTyping();
  }
}

// ---- chat -----------------------------------------------------------------

/**
 * @param {string} name
 * @param {boolean} quiet
 */
async function join(name, quiet) {
  try {
    const reply = await ws.emitWithAck("join", { room: name }, { timeout: 10_000 });
    room = reply.room;
    $("room").value = room;
    showMembers(reply.members);
    showUser();
    if (!quiet) notice(`you are in ${room}`);
  } catch (err) {
    notice(`cannot join ${name}: ${err.message}`, "error");
  }
}

// members are the names in the room (a name twice for two tabs).
/** @type {string[]} */
let members = [];
/** @param {string[] | null} list */
function showMembers(list) {
  members = list || [];
  $("who").textContent = `In ${room} with ${[...new Set(members)].sort().join(", ")}`;
}

/** @param {import("./protocol.js").Message} m */
function onChat(m) {
  const li = add($("messages"), "msg");
  const at = document.createElement("span");
  at.className = "at";
  at.textContent = new Date(m.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const who = document.createElement("b");
  who.textContent = m.name;
  li.append(at, who, document.createTextNode(": " + m.text));
  li.dataset.text = `${m.name}: ${m.text}`;
  if (auth && m.name === auth.name) li.classList.add("mine");
  setTyping(m.name, false);
}

function notice(text, cls = "") {
  const li = add($("messages"), `notice ${cls}`.trim());
  li.textContent = text;
}

function add(list, cls) {
  const li = document.createElement("li");
  li.className = cls;
  list.append(li);
  while (list.children.length > 300) list.firstElementChild.remove();
  li.scrollIntoView({ block: "nearest" });
  return li;
}

function sendChat() {
  const text = $("text").value.trim();
  if (!text || !ws || !auth || !room) return;
  if (!ws.emit("chat", { text })) {
    notice("not sent: too many messages wait for the connection", "error");
    return;
  }
  $("text").value = "";
  stopTyping();
  showQueued();
}

function showQueued() {
  const n = ws ? ws.queued : 0;
  $("queued").textContent = n > 0 ? `${n} waiting to be sent` : "";
}

// Typing: tell the room at most every 2 s while keys are pressed, and
// "stopped" after 3 s of quiet or on send. Only while connected: a stale
// "typing" is worse than none.
let typingSent = 0;
let typingTimer = 0;
function onTypingInput() {
  if (!ws || ws.state !== "open" || !room) return;
  const now = Date.now();
  if (now - typingSent > 2000) {
    ws.emit("typing", { typing: true });
    typingSent = now;
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, 3000);
}
function stopTyping() {
  clearTimeout(typingTimer);
  if (typingSent && ws && ws.state === "open") ws.emit("typing", { typing: false });
  typingSent = 0;
}

const typing = new Map(); // name -> expiry
function setTyping(name, on) {
  if (on) typing.set(name, Date.now() + 6000);
  else typing.delete(name);
  renderTyping();
}
function renderTyping() {
  const now = Date.now();
  for (const [n, exp] of typing) if (exp < now) typing.delete(n);
  const names = [...typing.keys()];
  $("typing").textContent =
    names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
}
setInterval(renderTyping, 1000);

// ---- echo -----------------------------------------------------------------

async function echo() {
  const text = $("echo-text").value;
  if (!text || !ws) return;
  $("echo-text").value = "";
  const log = $("echo-log");
  add(log, "sent").textContent = `→ ${text}`;
  const t0 = performance.now();
  try {
    const reply = await ws.emitWithAck("echo", text, { timeout: 10_000 });
    const li = add(log, "reply");
    li.textContent = `← ${reply}  (${(performance.now() - t0).toFixed(1)} ms)`;
    li.dataset.reply = reply;
  } catch (err) {
    add(log, "notice error").textContent = `echo failed: ${err.message}`;
  }
}

// ---- stats ----------------------------------------------------------------

const WINDOW = 60; // seconds shown
const series = { conns: [], rate: [] };
let last = null;

async function pollStats() {
  try {
    const r = await fetch("/api/ws/stats", { cache: "no-store" });
    if (!r.ok) throw new Error(String(r.status));
    const s = await r.json();
    const t = performance.now();
    let rateIn = 0;
    let rateOut = 0;
    if (last) {
      const dt = Math.max((t - last.t) / 1000, 0.001);
      rateIn = Math.max(0, s.messagesIn - last.s.messagesIn) / dt;
      rateOut = Math.max(0, s.messagesOut - last.s.messagesOut) / dt;
    }
    last = { t, s };
    $("stat-connections").textContent = String(s.connections);
    $("stat-rooms").textContent = String(s.rooms);
    $("stat-in").textContent = rateIn.toFixed(1);
    $("stat-out").textContent = rateOut.toFixed(1);
    $("stat-accepted").textContent = String(s.accepted);
    $("stat-rejected").textContent = String(Object.values(s.rejected || {}).reduce((a, b) => a + b, 0));
    $("uptime").textContent = `server up ${formatUptime(s.uptimeSeconds)}; ping round trip ${(s.pingRttMillis || 0).toFixed(2)} ms`;
    push(series.conns, s.connections);
    push(series.rate, rateIn + rateOut);
    draw();
  } catch {
    $("uptime").textContent = "stats unavailable (server down?)";
  }
}

function push(arr, v) {
  arr.push(v);
  if (arr.length > WINDOW) arr.shift();
}

function formatUptime(sec) {
  sec = Math.floor(sec || 0);
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${sec % 60} s` : `${sec} s`;
}

// draw plots both series over the last minute, each on its own scale
// (connections on the left axis, messages per second on the right).
function draw() {
  const canvas = $("chart");
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const pad = { l: 30, r: 36, t: 10, b: 18 };
  const pw = w - pad.l - pad.r;
  const ph = h - pad.t - pad.b;
  const nice = (v) => {
    if (v <= 4) return 4;
    const p = 10 ** Math.floor(Math.log10(v));
    return [1, 2, 5, 10].map((k) => k * p).find((x) => x >= v);
  };
  const maxC = nice(Math.max(...series.conns, 1));
  const maxR = nice(Math.max(...series.rate, 1));
  g.font = "11px system-ui, sans-serif";
  g.strokeStyle = "#e3e7ee";
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + (ph * i) / 4;
    g.beginPath();
    g.moveTo(pad.l, y);
    g.lineTo(pad.l + pw, y);
    g.stroke();
    g.fillStyle = "#2f6fd6";
    g.textAlign = "right";
    g.fillText(String(Math.round(maxC * (1 - i / 4))), pad.l - 5, y + 4);
    g.fillStyle = "#1f9d55";
    g.textAlign = "left";
    g.fillText(String(+(maxR * (1 - i / 4)).toFixed(1)), pad.l + pw + 5, y + 4);
  }
  g.fillStyle = "#8a94a3";
  g.textAlign = "center";
  g.fillText("last 60 s", pad.l + pw / 2, h - 4);
  const line = (arr, max, color, fill) => {
    if (arr.length < 2) return;
    const x = (i) => pad.l + pw - ((arr.length - 1 - i) * pw) / (WINDOW - 1);
    const y = (v) => pad.t + ph - (v / max) * ph;
    g.beginPath();
    arr.forEach((v, i) => (i === 0 ? g.moveTo(x(i), y(v)) : g.lineTo(x(i), y(v))));
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.stroke();
    if (fill) {
      g.lineTo(x(arr.length - 1), pad.t + ph);
      g.lineTo(x(0), pad.t + ph);
      g.closePath();
      g.fillStyle = fill;
      g.fill();
    }
  };
  line(series.rate, maxR, "#1f9d55", "rgba(31,157,85,.12)");
  line(series.conns, maxC, "#2f6fd6", null);
}

// ---- wiring ---------------------------------------------------------------

$("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = $("name").value.trim();
  if (!name) {
    $("name").focus();
    return;
  }
  $("signin-button").disabled = true;
  try {
    await signIn(name);
  } catch (err) {
    notice(err.message, "error");
  } finally {
    $("signin-button").disabled = false;
  }
});
$("signout").addEventListener("click", () => {
  signedOut();
  start();
});
$("reconnect").addEventListener("click", () => start());
$("room-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const name = $("room").value.trim();
  if (!auth) {
    notice("sign in to chat", "error");
    return;
  }
  if (name) join(name, false);
});
$("chat-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sendChat();
});
$("text").addEventListener("input", onTypingInput);
$("echo-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  echo();
});
window.addEventListener("resize", draw);

if (auth) room = $("room").value.trim() || "lobby";
showUser();
start(); // connect on load
pollStats();
setInterval(pollStats, 1000);
