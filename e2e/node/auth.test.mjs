// auth.test.mjs tests the JS client's authentication under Node's test
// runner: options.token (called before every attempt, a fresh token after
// 4401, stopping when a fresh token cannot help) against the Go test server
// (e2e/testserver), and options.maxConnectFailures and the token's
// placement against small fake servers built here on the npm ws package:
//
//	RUSHWS_E2E_SERVER=/tmp/testserver node --test e2e/node/
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { WebSocket, WebSocketServer } from "ws";

import { connect } from "../../client/rushws.js";
import { next, start, token } from "./server.mjs";

const opts = { WebSocket, initialDelay: 50, maxDelay: 400, ackTimeout: 5000, protocols: ["e2e.v1"] };

let srv;
before(async () => {
  srv = await start();
});
after(async () => {
  await srv?.stop();
});

/** attempts is how many handshakes the test server saw from ?client=id. */
async function attempts(id) {
  const r = await fetch(`${srv.url}/api/attempts?client=${encodeURIComponent(id)}`);
  if (!r.ok) throw new Error(`GET /api/attempts: ${r.status}`);
  return (await r.json()).attempts;
}

/** tokens returns a token function for sub that counts its calls in .calls. */
function tokens(sub, ttl) {
  const fn = async () => {
    fn.calls++;
    return token(srv.url, sub, ttl);
  };
  fn.calls = 0;
  return fn;
}

/** closes records every "close" of c, and resolves .final with the last one. */
function closes(c) {
  const list = [];
  list.final = new Promise((resolve) => {
    c.on("close", (info) => {
      list.push(info);
      if (!info.willReconnect) resolve(info);
    });
  });
  return list;
}

/** removeUser makes the test server refuse sub from now on. */
async function removeUser(sub) {
  const r = await fetch(`${srv.url}/users/remove?sub=${encodeURIComponent(sub)}`, { method: "POST" });
  assert.equal(r.status, 204);
}

describe("options.token against the test server", () => {
  test("is called before every attempt and offered as bearer.<token>", async () => {
    const fn = tokens("ada", "1m");
    const c = connect(`${srv.ws}/ws/auth/users?client=every`, { ...opts, token: fn });
    assert.equal((await next(c, "welcome")).sub, "ada");
    assert.equal(c.protocol, "e2e.v1", "the app's protocol is selected, never the token's");
    assert.equal(fn.calls, 1);
    c.emit("bye", { code: 4000, reason: "again" });
    assert.equal((await next(c, "welcome")).sub, "ada");
    assert.equal(fn.calls, 2);
    assert.equal(await attempts("every"), 2);
    c.close();
  });

  test("a token that expires while connected is replaced and the client keeps working", async () => {
    const fn = tokens("ada", "2s"); // valid for 1 to 2 s: exp is in whole seconds
    const c = connect(`${srv.ws}/ws/auth/users?client=expiry`, { ...opts, token: fn });
    const seen = closes(c);
    await next(c, "welcome");
    for (let i = 1; i <= 2; i++) {
      const info = await next(c, "close", 5000);
      assert.equal(info.code, 4401);
      assert.equal(info.reason, "token expired");
      assert.equal(info.willReconnect, true, info.why);
      assert.match(info.why, /with a fresh token/);
      assert.equal((await next(c, "welcome")).sub, "ada");
      assert.equal(await c.emitWithAck("echo", i), i);
    }
    assert.equal(fn.calls, 3);
    assert.equal(await attempts("expiry"), 3);
    assert.ok(seen.every((i) => i.willReconnect));
    c.close();
  });

  test("a removed user gets one fresh token, then the client stops and says why", async () => {
    const fn = tokens("bob", "1m");
    const c = connect(`${srv.ws}/ws/auth/users?client=removed`, { ...opts, token: fn });
    const seen = closes(c);
    await next(c, "welcome");
    await removeUser("bob");
    const final = await seen.final;
    assert.deepEqual(
      seen.map((i) => [i.code, i.reason, i.willReconnect]),
      [
        [4401, "user removed", true],
        [4401, "user removed", false],
      ],
    );
    assert.match(final.why, /user removed.*again with a fresh token/);
    assert.equal(c.state, "closed", "no timer left: it cannot try again");
    assert.equal(fn.calls, 2);
    assert.equal(await attempts("removed"), 2);
    assert.equal(c.emit("echo", 1), false);
  });

  test("the same token after 4401 stops at once", async () => {
    const expired = await token(srv.url, "ada", "-1m");
    let calls = 0;
    const c = connect(`${srv.ws}/ws/auth/users?client=same`, {
      ...opts,
      token: () => {
        calls++;
        return expired;
      },
    });
    const seen = closes(c);
    const final = await seen.final;
    assert.equal(seen.length, 1);
    assert.equal(final.code, 4401);
    assert.equal(final.reason, "token expired");
    assert.match(final.why, /returned the same token/);
    assert.equal(calls, 2, "once to connect, once after the 4401");
    assert.equal(await attempts("same"), 1);
  });

  test("null from the token function stops before any attempt", async () => {
    const c = connect(`${srv.ws}/ws/auth/users?client=none`, { ...opts, token: async () => null });
    const info = await next(c, "close");
    assert.deepEqual([info.code, info.reason, info.willReconnect], [4401, "no token", false]);
    assert.match(info.why, /returned no token/);
    assert.equal(c.state, "closed");
    assert.equal(await attempts("none"), 0);
  });

  test("a token function that fails is reported and retried after the backoff", async () => {
    let calls = 0;
    const c = connect(`${srv.ws}/ws/auth/users?client=flaky`, {
      ...opts,
      token: async () => {
        if (++calls === 1) throw new Error("token endpoint down");
        return token(srv.url, "ada", "1m");
      },
    });
    const err = await next(c, "error");
    assert.equal(err.code, "connect_failed");
    assert.match(err.message, /token endpoint down/);
    assert.equal((await next(c, "welcome")).sub, "ada");
    assert.equal(await attempts("flaky"), 1, "the failed call made no handshake");
    c.close();
  });

  test("a reconnect with a fresh token (in the query) recovers the session and what was missed", async () => {
    const room = `refresh-${Date.now()}`;
    const other = connect(`${srv.ws}/ws/recovery?room=${room}`, { WebSocket });
    await next(other, "open");
    let calls = 0;
    const c = connect(`${srv.ws}/ws/recovery/auth?room=${room}`, {
      WebSocket,
      initialDelay: 50,
      tokenQuery: "token",
      token: async () => {
        // Before the second token: something is said while c is away.
        if (++calls === 2) assert.equal(await other.emitWithAck("say", "while away"), true);
        return token(srv.url, "ada", "2s");
      },
    });
    const heard = [];
    c.on("said", (d) => heard.push(d));
    assert.equal((await next(c, "open")).recovered, false);
    assert.equal(await other.emitWithAck("say", "before"), true);
    const expired = await next(c, "close", 5000);
    assert.deepEqual([expired.code, expired.reason, expired.willReconnect], [4401, "token expired", true]);
    const back = await next(c, "open", 5000);
    assert.equal(back.recovered, true, `not recovered: ${back.reason}`);
    assert.equal(back.missed, 1);
    assert.deepEqual(heard, ["before", "while away"]);
    assert.equal(calls, 2);
    c.close();
    other.close();
  });

  test("401 before the upgrade is final without a token function (Node's ws reports the status)", async () => {
    const expired = await token(srv.url, "ada", "-1m");
    const c = connect(`${srv.ws}/ws/auth/strict?client=strict-plain`, { ...opts, protocols: ["e2e.v1", "bearer." + expired] });
    const final = await closes(c).final;
    assert.equal(final.code, 1006);
    assert.equal(final.status, 401);
    assert.match(final.why, /authentication failed.*HTTP 401/);
    assert.equal(await attempts("strict-plain"), 1);
  });

  test("401 before the upgrade with a token function: one fresh token, then stop", async () => {
    const fn = tokens("ada", "-1m"); // every token it gives is refused
    const c = connect(`${srv.ws}/ws/auth/strict?client=strict-fresh`, { ...opts, token: fn });
    const seen = closes(c);
    const final = await seen.final;
    assert.deepEqual(
      seen.map((i) => [i.code, i.status, i.willReconnect]),
      [
        [1006, 401, true],
        [1006, 401, false],
      ],
    );
    assert.match(final.why, /again with a fresh token/);
    assert.equal(await attempts("strict-fresh"), 2);
  });
});

describe("options.token placement", () => {
  let wss;
  const seen = [];
  before(async () => {
    wss = new WebSocketServer({ port: 0, host: "127.0.0.1", handleProtocols: (ps) => (ps.has("app.v1") ? "app.v1" : false) });
    wss.on("connection", (ws, req) => {
      const offered = req.headers["sec-websocket-protocol"] || "";
      seen.push({ url: req.url, protocols: offered.split(",").map((p) => p.trim()).filter(Boolean) });
      ws.close(4000, "seen");
    });
    await new Promise((resolve) => wss.once("listening", resolve));
  });
  after(() => new Promise((resolve) => wss.close(resolve)));
  const url = () => `ws://127.0.0.1:${wss.address().port}/ws?room=a`;

  test("in the subprotocol after the app's protocols, a fresh one on each attempt", async () => {
    seen.length = 0;
    let n = 0;
    const c = connect(url(), { ...opts, protocols: () => ["app.v1"], token: () => `t${++n}.x` });
    await next(c, "open");
    await next(c, "open");
    c.close();
    assert.deepEqual(seen.slice(0, 2), [
      { url: "/ws?room=a", protocols: ["app.v1", "bearer.t1.x"] },
      { url: "/ws?room=a", protocols: ["app.v1", "bearer.t2.x"] },
    ]);
  });

  test("in the query with tokenQuery, and under tokenPrefix", async () => {
    seen.length = 0;
    const q = connect(url(), { ...opts, protocols: "app.v1", token: () => "a b&c", tokenQuery: "access_token" });
    await next(q, "open");
    q.close();
    const p = connect(url(), { ...opts, protocols: "app.v1", token: () => "abc", tokenPrefix: "access_token." });
    await next(p, "open");
    p.close();
    assert.deepEqual(seen, [
      { url: "/ws?room=a&access_token=a%20b%26c", protocols: ["app.v1"] },
      { url: "/ws?room=a", protocols: ["app.v1", "access_token.abc"] },
    ]);
  });

  test("a token a subprotocol cannot carry is an error that does not show it", async () => {
    const c = connect(url(), { ...opts, token: () => "secret with spaces", maxConnectFailures: 1 });
    const err = await next(c, "error");
    assert.equal(err.code, "connect_failed");
    assert.match(err.message, /subprotocol cannot carry/);
    assert.doesNotMatch(err.message, /secret/);
    c.close();
  });

  test("bad options are refused when the client is made", () => {
    assert.throws(() => connect(url(), { ...opts, token: "abc" }), /options\.token must be a function/);
    assert.throws(() => connect(url(), { ...opts, tokenPrefix: "bad prefix" }), /options\.tokenPrefix/);
    assert.throws(() => connect(url(), { ...opts, maxConnectFailures: 0 }), /options\.maxConnectFailures/);
  });
});

describe("options.maxConnectFailures", () => {
  test("gives up after that many attempts in a row that fail before opening", async () => {
    let tries = 0;
    const hangUp = net.createServer((s) => {
      tries++;
      s.destroy(); // no HTTP answer at all: 1006 with no status, as a browser sees a refusal
    });
    await new Promise((resolve) => hangUp.listen(0, "127.0.0.1", resolve));
    try {
      const c = connect(`ws://127.0.0.1:${hangUp.address().port}/ws`, { ...opts, initialDelay: 10, maxDelay: 20, maxConnectFailures: 3 });
      const errors = [];
      c.on("error", (e) => errors.push(e));
      const seen = closes(c);
      const final = await seen.final;
      assert.deepEqual(
        seen.map((i) => [i.code, i.willReconnect]),
        [
          [1006, true],
          [1006, true],
          [1006, false],
        ],
      );
      assert.match(final.why, /gave up after 3 attempts in a row failed before the connection opened/);
      const gaveUp = errors.filter((e) => e.code === "connect_failed");
      assert.equal(gaveUp.length, 1);
      assert.match(gaveUp[0].message, /3 connection attempts in a row failed/);
      assert.equal(tries, 3);
      assert.equal(c.state, "closed");
    } finally {
      await new Promise((resolve) => hangUp.close(resolve));
    }
  });

  test("a connection that opens starts the count over", async () => {
    // Refuses (503) two handshakes, accepts one and closes it, and so on.
    let n = 0;
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", verifyClient: (_info, cb) => cb(++n % 3 === 0, 503) });
    wss.on("connection", (ws) => ws.close(4000, "go on"));
    await new Promise((resolve) => wss.once("listening", resolve));
    try {
      const c = connect(`ws://127.0.0.1:${wss.address().port}/ws`, { ...opts, initialDelay: 10, maxDelay: 20, maxConnectFailures: 3 });
      await next(c, "open");
      const o = await next(c, "open");
      assert.equal(o.reconnected, true);
      assert.equal(n, 6, "two refused, one open, two refused, one open");
      c.close();
    } finally {
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});
