// wire.test.mjs checks the wire protocol as non-browser clients see it:
// the npm ws package frame by frame, and the wscat command line tool,
// against a real rushws server (the Go binary in e2e/testserver):
//
//	RUSHWS_E2E_SERVER=/tmp/testserver node --test e2e/node/
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { WebSocket } from "ws";

import { start, token } from "./server.mjs";

const WSCAT = createRequire(import.meta.url).resolve("wscat/bin/wscat");

let srv;
before(async () => {
  srv = await start();
});
after(async () => {
  await srv?.stop();
});

// Peer is a raw ws connection that records every frame and the close.
class Peer {
  constructor(path, options = {}, protocols = undefined) {
    this.frames = [];
    this.waiters = [];
    this.ws = new WebSocket(srv.ws + path, protocols, options);
    this.ws.on("message", (data, isBinary) => {
      this.frames.push({ binary: isBinary, data: isBinary ? data : data.toString() });
      this.#wake();
    });
    this.closed = new Promise((resolve) => this.ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    this.opened = new Promise((resolve, reject) => {
      this.ws.on("open", resolve);
      this.ws.on("unexpected-response", (_req, res) => reject(Object.assign(new Error(`handshake answered ${res.statusCode}`), { status: res.statusCode })));
      this.ws.on("error", reject);
    });
  }

  #wake() {
    for (const w of [...this.waiters]) w();
  }

  // next resolves with the first unread frame matching pred (JSON-decoded
  // when it is text and JSON), removing it.
  next(pred = () => true, ms = 5000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.frames.findIndex((f) => pred(decode(f)));
        if (i < 0) return false;
        const [f] = this.frames.splice(i, 1);
        this.waiters = this.waiters.filter((w) => w !== check);
        clearTimeout(timer);
        resolve(decode(f));
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`no matching frame within ${ms} ms; have ${JSON.stringify(this.frames.map(decode))}`));
      }, ms);
      if (!check()) this.waiters.push(check);
    });
  }

  event(name) {
    return this.next((f) => f && f.event === name);
  }

  send(obj) {
    this.ws.send(typeof obj === "string" ? obj : JSON.stringify(obj));
  }
}

function decode(f) {
  if (f.binary) return { binary: [...f.data] };
  try {
    return JSON.parse(f.data);
  } catch {
    return { text: f.data };
  }
}

async function peer(path = "/ws", options, protocols) {
  const p = new Peer(path, options, protocols);
  await p.opened;
  await p.event("welcome");
  return p;
}

describe("npm ws, frame by frame", () => {
  test("events and acks from the client", async () => {
    const p = await peer();
    p.send({ event: "echo", data: { x: [1, 2] }, ack: 41 });
    assert.deepEqual(await p.next((f) => f.ack === 41), { ack: 41, data: { x: [1, 2] } });
    p.send({ event: "fail", data: { code: "rate_limited", message: "slow down" }, ack: 42 });
    assert.deepEqual(await p.next((f) => f.ack === 42), { ack: 42, error: { code: "rate_limited", message: "slow down" } });
    p.ws.close();
  });

  test("acks from the server", async () => {
    const p = await peer();
    p.send({ event: "ask", data: "why?" });
    const q = await p.event("question");
    assert.equal(q.data, "why?");
    assert.ok(Number.isInteger(q.ack) && q.ack > 0, `question has ack ${q.ack}`);
    p.send({ ack: q.ack, data: "because" });
    assert.deepEqual((await p.event("answer")).data, { data: "because" });

    p.send({ event: "ask", data: "again?" });
    const q2 = await p.event("question");
    p.send({ ack: q2.ack, error: { code: "forbidden", message: "no more" } });
    assert.match((await p.event("answer")).data.error, /no more/);
    p.ws.close();
  });

  test("raw text and binary frames", async () => {
    const p = await peer();
    p.ws.send(Buffer.from([0, 255, 7]));
    assert.deepEqual(await p.next((f) => f.binary), { binary: [0, 255, 7] });
    p.send("just text");
    assert.deepEqual(await p.next((f) => f.text), { text: "just text" });
    p.ws.close();
  });

  test("error events for what the server cannot take", async () => {
    const p = await peer("/ws/strict");
    const cases = [
      { name: "not JSON", frame: "hello", code: "bad_request" },
      { name: "malformed JSON", frame: '{"event":', code: "bad_request" },
      { name: "unknown event", frame: '{"event":"nope","data":1}', code: "unknown_event" },
      { name: "binary", frame: Buffer.from([1]), code: "bad_request" },
    ];
    for (const c of cases) {
      p.ws.send(c.frame);
      const e = await p.event("error");
      assert.equal(e.data.code, c.code, c.name);
      assert.equal(typeof e.data.message, "string", c.name);
    }
    p.send({ event: "nope", data: 1, ack: 9 });
    assert.equal((await p.next((f) => f.ack === 9)).error.code, "unknown_event");
    p.ws.close();
  });

  const closes = [
    { name: "chosen by the server (4403)", act: (p) => p.send({ event: "bye", data: { code: 4403, reason: "go" } }), code: 4403, reason: "go" },
    { name: "handler panic (1011)", act: (p) => p.send({ event: "boom" }), code: 1011 },
    { name: "too big (1009)", act: (p) => p.send("x".repeat(65 * 1024)), code: 1009 },
    { name: "invalid UTF-8 (1007)", act: (p) => p.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false }), code: 1007 },
  ];
  for (const c of closes) {
    test(`close code: ${c.name}`, async () => {
      const p = await peer();
      c.act(p);
      const got = await p.closed;
      assert.equal(got.code, c.code);
      if (c.reason !== undefined) assert.equal(got.reason, c.reason);
    });
  }

  test("close code: server shutdown (1001)", async () => {
    const own = await start();
    const ws = new WebSocket(own.ws + "/ws");
    await new Promise((r) => ws.on("open", r));
    const closed = new Promise((r) => ws.on("close", (code, reason) => r({ code, reason: reason.toString() })));
    await own.stop("SIGTERM");
    assert.deepEqual(await closed, { code: 1001, reason: "server shutting down" });
  });

  test("auth: a missing token closes with 4401, a valid one gets in", async () => {
    const anon = new Peer("/ws/auth");
    await anon.opened;
    assert.deepEqual(await anon.closed, { code: 4401, reason: "missing token" });
    const tok = await token(srv.url, "grace", "1m");
    const p = await peer("/ws/auth", { headers: { Authorization: `Bearer ${tok}` } });
    p.ws.close();
    const q = new Peer("/ws/auth", { headers: { Authorization: `Bearer ${tok}` } });
    assert.equal((await q.event("welcome")).data.sub, "grace");
    q.ws.close();
  });

  test("origin: a foreign Origin is refused with 403 before the upgrade", async () => {
    const p = new Peer("/ws", { origin: "http://evil.example" });
    await assert.rejects(p.opened, { status: 403 });
  });
});

// wscat runs the wscat CLI with args, keeping its stdin open (it exits when
// stdin closes), and resolves with its exit code and output.
function wscat(args, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [WSCAT, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout.on("data", (d) => (out += d));
    proc.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`wscat ${args.join(" ")} did not exit within ${ms} ms`));
    }, ms);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, lines: out.split("\n").filter(Boolean) });
    });
  });
}

describe("wscat", () => {
  test("events, acks and raw text", async () => {
    const r = await wscat(["-c", srv.ws + "/ws", "-x", '{"event":"echo","data":{"a":1},"ack":3}', "-x", "raw line", "-w", "1"]);
    assert.equal(r.code, 0, r.err);
    const frames = r.lines.map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return l;
      }
    });
    assert.equal(frames[0].event, "welcome");
    assert.deepEqual(frames.slice(1), [{ data: { a: 1 }, ack: 3 }, "raw line"]);
  });

  test("an error event for an unknown event", async () => {
    const r = await wscat(["-c", srv.ws + "/ws/strict", "-x", '{"event":"nope","data":null}', "-w", "1"]);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.lines[1]).data.code, "unknown_event");
  });

  test("a token in the Authorization header and a subprotocol", async () => {
    const tok = await token(srv.url, "linus", "1m");
    const r = await wscat(["-c", srv.ws + "/ws/auth", "-s", "e2e.v1", "-H", `Authorization: Bearer ${tok}`, "-x", '{"event":"echo","data":"hi","ack":1}', "-w", "1"]);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.lines[0]).data.sub, "linus");
    assert.deepEqual(JSON.parse(r.lines[1]), { data: "hi", ack: 1 });
  });

  test("a foreign origin is refused", async () => {
    const r = await wscat(["-c", srv.ws + "/ws", "-o", "http://evil.example", "-x", "x", "-w", "1"]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /Unexpected server response: 403/);
  });
});
