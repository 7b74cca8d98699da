// client.test.mjs tests client/rushws.js under Node's own test runner
// against a real rushws server (the Go binary in e2e/testserver), with the
// npm ws package as the WebSocket implementation:
//
//	RUSHWS_E2E_SERVER=/tmp/testserver node --test e2e/node/
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";

import { backoffDelay, connect, RushwsError, validEventName } from "../../client/rushws.js";
import { next, sleep, start, stats, token } from "./server.mjs";

const opts = { WebSocket, initialDelay: 50, maxDelay: 400, ackTimeout: 5000 };

let srv;
before(async () => {
  srv = await start();
});
after(async () => {
  await srv?.stop();
});

// open connects to path and waits for the server's welcome.
async function open(path = "/ws", more = {}) {
  const c = connect(srv.ws + path, { ...opts, ...more });
  const welcome = await next(c, "welcome");
  assert.equal(c.state, "open");
  return { c, welcome };
}

describe("events and acks", () => {
  test("emitWithAck resolves with the server's reply", async () => {
    const { c, welcome } = await open();
    assert.match(welcome.id, /\S/);
    assert.deepEqual(await c.emitWithAck("echo", { a: [1, "two", null] }), { a: [1, "two", null] });
    assert.equal(await c.emitWithAck("echo", "é ✓"), "é ✓");
    c.close();
  });

  test("an ack error rejects with its code and message", async () => {
    const { c } = await open();
    await assert.rejects(c.emitWithAck("fail", { code: "forbidden", message: "not yours" }), (err) => {
      assert.ok(err instanceof RushwsError);
      assert.equal(err.code, "forbidden");
      assert.equal(err.message, "not yours");
      return true;
    });
    c.close();
  });

  test("a reply that takes too long rejects with timeout", async () => {
    const { c } = await open();
    await assert.rejects(c.emitWithAck("sleep", 1500, { timeout: 100 }), { code: "timeout" });
    c.close();
  });

  test("the server's acks are answered by the listener's return value", async () => {
    const { c } = await open();
    c.on("question", (q) => `${q}!`);
    c.emit("ask", "sync");
    assert.deepEqual(await next(c, "answer"), { data: "sync!" });

    c.off("question");
    c.on("question", async (q) => {
      await sleep(20);
      return { got: q };
    });
    c.emit("ask", 42);
    assert.deepEqual(await next(c, "answer"), { data: { got: 42 } });

    c.off("question");
    c.on("question", () => {
      throw new RushwsError("forbidden", "will not answer");
    });
    c.emit("ask", "x");
    const a = await next(c, "answer");
    assert.match(a.error, /will not answer/);

    c.off("question"); // no listener: the client answers unknown_event
    c.emit("ask", "x");
    assert.match((await next(c, "answer")).error, /no listener/);
    c.close();
  });

  test("events reach every listener; once fires once; off removes", async () => {
    const { c } = await open();
    const got = [];
    const a = (d) => got.push(`a:${d}`);
    c.on("shout", a);
    c.once("shout", (d) => got.push(`once:${d}`));
    assert.equal(await c.emitWithAck("join", "room-1"), "room-1");
    await c.emitWithAck("shout", 1);
    await c.emitWithAck("shout", 2);
    c.off("shout", a);
    await c.emitWithAck("shout", 3);
    await c.emitWithAck("echo", "flush");
    assert.deepEqual(got, ["a:1", "once:1", "a:2"]);
    c.close();
  });

  test("raw text and binary frames come back to message listeners", async () => {
    const { c } = await open();
    c.send("plain text, not JSON");
    assert.equal(await next(c, "message"), "plain text, not JSON");
    c.send(new Uint8Array([0, 1, 2, 255]));
    const bin = await next(c, "message");
    assert.ok(bin instanceof ArrayBuffer, `binary frame arrived as ${Object.prototype.toString.call(bin)}`);
    assert.deepEqual([...new Uint8Array(bin)], [0, 1, 2, 255]);
    c.close();
  });

  test("the server's error events reach error listeners", async () => {
    const { c } = await open("/ws/strict");
    c.send("not json");
    let err = await next(c, "error");
    assert.equal(err.code, "bad_request");
    c.emit("nope", 1);
    err = await next(c, "error");
    assert.equal(err.code, "unknown_event");
    await assert.rejects(c.emitWithAck("nope", 1), { code: "unknown_event" });
    c.close();
  });

  test("bad event names are refused before anything is sent", () => {
    const c = connect(srv.ws + "/ws", opts);
    for (const name of ["", "error", "message", "close", "ping", "pong", "connect", "a\nb", "x".repeat(129)]) {
      assert.throws(() => c.emit(name, 1), TypeError, `emit(${JSON.stringify(name)})`);
    }
    assert.throws(() => c.on("a\u0000b", () => {}), TypeError);
    assert.ok(validEventName("chat") && validEventName("é".repeat(64)) && !validEventName("é".repeat(65)));
    c.close();
  });
});

describe("close codes", () => {
  const cases = [
    { name: "4401 is final", code: 4401, reason: "token expired", reconnect: false, why: /authentication/ },
    { name: "4403 is final", code: 4403, reason: "forbidden", reconnect: false, why: /forbidden/ },
    { name: "1008 is final", code: 1008, reason: "message rate exceeded", reconnect: false, why: /policy/ },
    { name: "1000 from the server is final", code: 1000, reason: "bye", reconnect: false, why: /normally/ },
    { name: "4429 retries", code: 4429, reason: "slow down", reconnect: true, why: /reconnecting in/ },
    { name: "4000 retries", code: 4000, reason: "app", reconnect: true, why: /reconnecting in/ },
  ];
  for (const tc of cases) {
    test(tc.name, async () => {
      const { c } = await open();
      c.emit("bye", { code: tc.code, reason: tc.reason });
      const info = await next(c, "close");
      assert.equal(info.code, tc.code);
      assert.equal(info.reason, tc.reason);
      assert.equal(info.willReconnect, tc.reconnect);
      assert.match(info.why, tc.why);
      if (tc.reconnect) {
        assert.ok(info.delay >= 0 && info.delay <= opts.initialDelay, `delay ${info.delay}`);
        const o = await next(c, "open");
        assert.equal(o.reconnected, true);
        c.close();
      } else {
        assert.equal(c.state, "closed");
        assert.equal(c.emit("echo", 1), false);
      }
    });
  }

  test("a handler panic (1011) and an oversized message (1009) reconnect", async () => {
    const { c } = await open();
    c.emit("boom", null);
    let info = await next(c, "close");
    assert.equal(info.code, 1011);
    assert.equal(info.willReconnect, true);
    await next(c, "welcome");
    c.send("x".repeat(65 * 1024));
    info = await next(c, "close");
    assert.equal(info.code, 1009);
    assert.equal(info.willReconnect, true);
    await next(c, "welcome");
    c.close(1000, "done");
    info = await next(c, "close");
    assert.equal(info.willReconnect, false);
    assert.equal(info.why, "closed by the client");
  });
});

describe("auth", () => {
  test("a valid token in the subprotocol is accepted", async () => {
    const tok = await token(srv.url, "ada", "1m");
    const { c, welcome } = await open("/ws/auth", { protocols: ["e2e.v1", "bearer." + tok] });
    assert.equal(welcome.sub, "ada");
    assert.equal(c.protocol, "e2e.v1");
    c.close();
  });

  test("an expired token closes with 4401 and is not retried", async () => {
    const tok = await token(srv.url, "ada", "-1m");
    const before = (await stats(srv.url)).accepted;
    const c = connect(srv.ws + "/ws/auth", { ...opts, protocols: ["e2e.v1", "bearer." + tok] });
    const closes = [];
    c.on("close", (i) => closes.push(i));
    await sleep(1000); // time for a reconnect loop to show itself
    assert.equal(closes.length, 1, `closes: ${JSON.stringify(closes)}`);
    assert.equal(closes[0].code, 4401);
    assert.equal(closes[0].reason, "token expired");
    assert.equal(closes[0].willReconnect, false);
    assert.equal(c.state, "closed");
    assert.equal((await stats(srv.url)).accepted - before, 1);
  });

  test("a token that expires while connected closes with 4401", async () => {
    const tok = await token(srv.url, "ada", "1s");
    const { c } = await open("/ws/auth", { protocols: () => ["e2e.v1", "bearer." + tok] });
    const info = await next(c, "close", 5000);
    assert.equal(info.code, 4401);
    assert.equal(info.willReconnect, false);
  });
});

describe("reconnect", () => {
  test("backoffDelay is full jitter under a doubling, capped ceiling", () => {
    const top = () => 0.999999;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 100, 1000, top)),
      [99, 199, 399, 799, 999, 999],
    );
    assert.equal(backoffDelay(3, 100, 1000, () => 0), 0);
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(4, 100, 1000)));
    assert.ok(seen.size > 10, "delays are not random");
    for (const d of seen) assert.ok(d >= 0 && d < 800);
  });

  test("gives up after maxAttempts when nothing answers", async () => {
    const probe = await start();
    const dead = probe.ws;
    await probe.stop();
    const c = connect(dead + "/ws", { ...opts, initialDelay: 10, maxDelay: 20, maxAttempts: 2 });
    const closes = [];
    await new Promise((resolve) => {
      c.on("close", (i) => {
        closes.push(i);
        if (!i.willReconnect) resolve();
      });
    });
    assert.deepEqual(closes.map((i) => i.willReconnect), [true, true, false]);
    assert.match(closes[2].why, /gave up after 2 attempts/);
  });

  test("sends made while the server is down go out in order after it restarts", async () => {
    const own = await start();
    const c = connect(own.ws + "/ws", { ...opts, initialDelay: 50, maxDelay: 200 });
    c.on("welcome", () => {}); // each connection's welcome, so it is not a stray "message"
    await next(c, "welcome");
    const down = next(c, "close");
    await own.stop("SIGTERM");
    const info = await down;
    assert.equal(info.code, 1001);
    assert.equal(info.willReconnect, true);

    const acks = [1, 2, 3].map((i) => c.emitWithAck("echo", i, { timeout: 10_000 }));
    assert.equal(c.send("raw-4"), true);
    assert.equal(c.emit("echo", 5), true);
    assert.equal(c.queued, 5);
    await sleep(300); // a few failed attempts while nothing listens

    const raws = [];
    c.on("message", (m) => raws.push(m));
    c.once("open", () => c.send("from-open")); // restoring state goes first
    const back = await start(own.addr);
    try {
      const o = await next(c, "open", 5000);
      assert.equal(o.reconnected, true);
      assert.deepEqual(await Promise.all(acks), [1, 2, 3]);
      await c.emitWithAck("echo", "flush");
      assert.deepEqual(raws, ["from-open", "raw-4"]);
      assert.equal(c.queued, 0);
    } finally {
      c.close();
      await back.stop();
    }
  });

  test("the offline queue is bounded", async () => {
    const probe = await start();
    const dead = probe.ws;
    await probe.stop();
    const c = connect(dead + "/ws", { ...opts, queueSize: 2, initialDelay: 1000 });
    assert.equal(c.emit("echo", 1), true);
    assert.equal(c.send("two"), true);
    assert.equal(c.emit("echo", 3), false);
    await assert.rejects(c.emitWithAck("echo", 4), { code: "queue_full" });
    const pending = c.emitWithAck("echo", 5).catch((e) => e);
    c.close();
    assert.equal(c.state, "closed");
    // queue_full first: the queue was full; then nothing is pending.
    assert.equal((await pending).code, "queue_full");
  });

  test("close() while offline rejects queued acks with closed", async () => {
    const probe = await start();
    const dead = probe.ws;
    await probe.stop();
    const c = connect(dead + "/ws", { ...opts, initialDelay: 1000 });
    const p = c.emitWithAck("echo", 1);
    c.close();
    await assert.rejects(p, { code: "closed" });
    await assert.rejects(c.emitWithAck("echo", 2), { code: "closed" });
  });
});

describe("Node without an implementation", () => {
  test("connect says what to pass", () => {
    if (globalThis.WebSocket) return; // Node 22+ has one
    assert.throws(() => connect("ws://127.0.0.1:1/ws"), /options\.WebSocket/);
  });
});
