// recovery.test.mjs tests connection state recovery in client/rushws.js
// under Node's own test runner, against the fake server in
// recoveryserver.mjs (the npm ws package, implementing the recovery wire
// design of docs/recovery.md). It needs no Go server:
//
//	node --test e2e/node/recovery.test.mjs
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket, WebSocketServer } from "ws";

import { connect } from "../../client/rushws.js";
import { startRecoveryServer } from "./recoveryserver.mjs";
import { next, sleep } from "./server.mjs";

// Everything a test starts, stopped after it.
const cleanups = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function server(options) {
  const srv = await startRecoveryServer(options);
  cleanups.push(() => srv.close());
  return srv;
}

// A gate holds the client's next dial (its URL function waits on it), so a
// test can act while the client is offline.
function gate() {
  let open;
  const g = { held: false, wait: Promise.resolve() };
  g.hold = () => {
    g.held = true;
    g.wait = new Promise((r) => (open = r));
  };
  g.release = () => {
    g.held = false;
    open();
  };
  return g;
}

// client connects through a WebSocket that writes, into log, every URL it
// dials and every frame the client sends; listeners add what they get.
function client(url, options = {}, log = []) {
  class LoggingWebSocket extends WebSocket {
    constructor(u, protocols, opts) {
      super(u, protocols, opts);
      log.push({ dial: u });
    }
    send(data) {
      log.push({ send: JSON.parse(data) });
      super.send(data);
    }
  }
  const g = gate();
  const c = connect(
    async () => {
      await g.wait;
      return typeof url === "function" ? url() : url;
    },
    { WebSocket: LoggingWebSocket, initialDelay: 20, maxDelay: 50, recoverTimeout: 3000, ...options },
  );
  cleanups.push(() => c.close());
  c.on("open", (info) => log.push({ open: info }));
  return { c, g, log };
}

// dropWhile drops every connection with the client's next dial held, runs
// fn while the client is offline, then lets it reconnect, and resolves with
// what its "open" said.
async function dropWhile(srv, { c, g }, fn = async () => {}) {
  g.hold();
  const closed = next(c, "close");
  srv.dropAll();
  const info = await closed;
  assert.equal(info.willReconnect, true);
  await sleep(100); // the client is now waiting in its URL function
  await fn();
  const opened = next(c, "open");
  g.release();
  return opened;
}

// sent is what the client sent on its last connection, in order.
function sentSinceLastDial(log) {
  const i = log.findLastIndex((e) => e.dial);
  return log.slice(i + 1).filter((e) => e.send).map((e) => e.send);
}

describe("recovery", () => {
  test("a fresh connection opens at once, then keeps the session the server gives", async () => {
    const srv = await server();
    const { c, log } = client(srv.url);
    const info = await next(c, "open");
    assert.deepEqual(info, { reconnected: false, attempt: 0, protocol: "", recovered: false, missed: 0 });
    assert.ok(!("reason" in info), "no reason when nothing was attempted");
    assert.doesNotMatch(log[0].dial, /rushws_recover/);
    assert.equal(await c.emitWithAck("join", { room: "lobby" }), "lobby");
    // Nothing went before the app's own message: no recover message.
    assert.deepEqual(sentSinceLastDial(log).map((m) => m.event), ["join"]);
  });

  test("missed messages are delivered once, in order, then open, then the offline queue", async () => {
    const srv = await server();
    const t = client(srv.url);
    const { c, log } = t;
    for (const e of ["chat", "note", "news", "echo"]) c.on(e, (d) => log.push({ got: e, data: d }));
    await next(c, "open");
    await c.emitWithAck("join", { room: "lobby" });
    srv.toRoom("lobby", "chat", 1);
    srv.toRoom("lobby", "chat", 2);
    await c.emitWithAck("echo", "sync");
    const session = [...srv.sessions.values()][0];
    const token = session.token;

    const info = await dropWhile(srv, t, async () => {
      srv.toRoom("lobby", "chat", 3);
      srv.toSession(session, "note", 4);
      srv.broadcast("news", 5);
      srv.toRoom("lobby", "chat", 6);
      srv.volatile("lobby", "chat", "volatile: not kept, not replayed");
      assert.equal(c.emit("echo", "queued-1"), true);
      assert.equal(c.send(JSON.stringify({ event: "echo", data: "queued-2" })), true);
      assert.equal(c.queued, 2);
    });
    assert.equal(info.recovered, true);
    assert.equal(info.missed, 4);
    assert.equal(info.reconnected, true);
    assert.ok(!("reason" in info));
    await c.emitWithAck("echo", "flush");

    const since = log.slice(log.findLastIndex((e) => e.dial));
    assert.match(since[0].dial, /\/ws\?rushws_recover=1$/);
    assert.deepEqual(
      since.slice(1).map((e) => (e.got ? `got ${e.got} ${e.data}` : e.open ? "open" : `send ${e.send.event} ${e.send.data?.token ? "token" : e.send.data}`)),
      [
        "send recover token",
        "got chat 3",
        "got note 4",
        "got news 5",
        "got chat 6",
        "open",
        "send echo queued-1",
        "send echo queued-2",
        "send echo flush",
        "got echo queued-1",
        "got echo queued-2",
      ],
    );
    assert.equal(since[1].send.data.token, token);
    assert.equal(c.queued, 0);
  });

  test("the recover message presents the positions of every stream, from the session and each pos", async () => {
    const srv = await server();
    const t = client(srv.url);
    const { c, log } = t;
    c.on("chat", () => {});
    c.on("message", () => {});
    await next(c, "open");
    await c.emitWithAck("join", { room: "lobby" });
    await c.emitWithAck("join", { room: "games" });
    srv.toRooms(["lobby", "games"], "chat", "both rooms, one message"); // pos: room:lobby and room:games
    srv.broadcast("chat", "everyone"); // pos: all
    srv.toRoom("lobby", "chat", "lobby only"); // pos: room:lobby
    srv.volatile("lobby", "chat", "volatile"); // no pos
    srv.raw("lobby", "raw text"); // no pos
    await c.emitWithAck("echo", "sync");
    const session = [...srv.sessions.values()][0];
    const want = {
      event: "recover",
      data: {
        token: session.token,
        positions: {
          conn: srv.position(`conn:${session.id}`), // from the session message: nothing sent to it
          all: srv.position("all"),
          "room:lobby": srv.position("room:lobby"),
          "room:games": srv.position("room:games"),
        },
      },
    };
    assert.match(want.data.positions["room:lobby"], /:2$/);
    assert.match(want.data.positions["room:games"], /:1$/);
    assert.match(want.data.positions.all, /:1$/);
    assert.match(want.data.positions.conn, /:0$/);

    let info = await dropWhile(srv, t);
    assert.deepEqual(sentSinceLastDial(log)[0], want);
    assert.equal(info.recovered, true);
    assert.equal(info.missed, 0);

    // After a recovery: the session message's positions, then the replay's on top.
    info = await dropWhile(srv, t, async () => {
      srv.toRoom("games", "chat", "missed");
    });
    assert.equal(info.missed, 1);
    await dropWhile(srv, t);
    assert.deepEqual(sentSinceLastDial(log)[0].data.positions, {
      conn: srv.position(`conn:${session.id}`),
      all: srv.position("all"),
      "room:lobby": srv.position("room:lobby"),
      "room:games": srv.position("room:games"),
    });
    assert.match(srv.position("room:games"), /:2$/);
  });

  const failures = [
    {
      reason: "expired",
      options: { window: 200 },
      offline: async () => sleep(400),
    },
    {
      reason: "unknown",
      offline: async (srv) => srv.forgetSessions(),
    },
    {
      reason: "too_far_behind",
      options: { historySize: 3 },
      offline: async (srv) => {
        for (let i = 0; i < 5; i++) srv.toRoom("lobby", "chat", i);
      },
    },
    {
      reason: "history_lost",
      offline: async (srv) => srv.loseHistory("room:lobby"),
    },
    {
      reason: "forbidden",
      offline: async (srv, user) => (user.name = "mallory"),
    },
  ];
  for (const tc of failures) {
    test(`a failed recovery opens with reason ${tc.reason}, as a new connection`, async () => {
      const srv = await server(tc.options);
      const user = { name: "ada" };
      const t = client(() => `${srv.url}?user=${user.name}`);
      const { c, log } = t;
      c.on("chat", () => {});
      // The app's part: rejoin when the server did not restore the rooms.
      c.on("open", (e) => {
        if (!e.recovered) c.emit("join", { room: "lobby" });
      });
      await next(c, "open");
      await c.emitWithAck("echo", "sync");
      const first = [...srv.sessions.values()].find((s) => s.user === "ada");
      const info = await dropWhile(srv, t, () => tc.offline(srv, user));
      assert.deepEqual(
        { recovered: info.recovered, missed: info.missed, reason: info.reason },
        { recovered: false, missed: 0, reason: tc.reason },
      );
      assert.equal(sentSinceLastDial(log)[0].data.token, first.token);
      assert.equal(sentSinceLastDial(log)[1].event, "join", "the open listener's rejoin goes right after the recover message");

      // The connection goes on as a new one, with a new session that is
      // presented next time.
      await c.emitWithAck("echo", "sync");
      const now = srv.connections.at(-1).session;
      assert.notEqual(now.token, first.token);
      assert.ok(now.rooms.has("lobby"));
      const nowToken = now.token; // recovering replaces it
      const again = await dropWhile(srv, t);
      assert.equal(again.recovered, true);
      assert.equal(sentSinceLastDial(log)[0].data.token, nowToken);
    });
  }

  test("the session can live in sessionStorage, for a reloaded page", async () => {
    const store = new Map();
    globalThis.sessionStorage = {
      getItem: (k) => (store.has(k) ? store.get(k) : null),
      setItem: (k, v) => store.set(k, String(v)),
      removeItem: (k) => store.delete(k),
    };
    cleanups.push(() => delete globalThis.sessionStorage);
    const srv = await server();

    // The first page: connects, joins, gets a message, then dies without
    // closing its client (its next dial never happens).
    const page1 = client(srv.url, { sessionStorageKey: "chat" });
    page1.c.on("chat", () => {});
    await next(page1.c, "open");
    await page1.c.emitWithAck("join", { room: "lobby" });
    srv.toRoom("lobby", "chat", "seen by page 1");
    await page1.c.emitWithAck("echo", "sync");
    const session = [...srv.sessions.values()][0];
    assert.deepEqual(JSON.parse(store.get("chat")), {
      token: session.token,
      positions: { conn: srv.position(`conn:${session.id}`), all: srv.position("all"), "room:lobby": srv.position("room:lobby") },
    });
    page1.g.hold(); // never released: the page is gone
    srv.dropAll();
    await sleep(100);
    srv.toRoom("lobby", "chat", "missed by page 1");

    // The reloaded page: presents the stored session on its first connection.
    const page2 = client(srv.url, { sessionStorageKey: "chat" });
    const got = [];
    page2.c.on("chat", (d) => got.push(d));
    const info = await next(page2.c, "open");
    assert.deepEqual(info, { reconnected: false, attempt: 0, protocol: "", recovered: true, missed: 1 });
    assert.deepEqual(got, ["missed by page 1"]);
    assert.match(page2.log[0].dial, /rushws_recover=1/);

    // A client closed for good ends its session.
    page2.c.close();
    assert.equal(store.has("chat"), false);
  });

  test("session and recover are reserved: never emitted, never delivered", async () => {
    const srv = await server();
    const { c } = client(srv.url);
    assert.throws(() => c.emit("session", {}), /reserved/);
    assert.throws(() => c.emit("recover", {}), /reserved/);
    const seen = [];
    c.on("session", (d) => seen.push(d));
    c.on("message", (d) => seen.push(d));
    await next(c, "open");
    await c.emitWithAck("join", { room: "lobby" });
    srv.toRoom("lobby", "session", { token: "not the first message" });
    await c.emitWithAck("echo", "sync");
    assert.deepEqual(seen, []);
  });
});

describe("servers without recovery", () => {
  test("open fires when the socket opens and reconnects look as before", async () => {
    const srv = await server({ recovery: false, greet: true });
    const t = client(srv.url);
    const { c, log } = t;
    c.on("welcome", () => log.push({ got: "welcome" }));
    const info = await next(c, "open");
    assert.deepEqual(info, { reconnected: false, attempt: 0, protocol: "", recovered: false, missed: 0 });
    await c.emitWithAck("echo", "sync");
    assert.ok(log.findIndex((e) => e.open) < log.findIndex((e) => e.got === "welcome"), "open before the first message");

    const again = await dropWhile(srv, t, async () => {
      c.emit("echo", "queued");
    });
    assert.deepEqual(again, { reconnected: true, attempt: again.attempt, protocol: "", recovered: false, missed: 0 });
    assert.doesNotMatch(log.findLast((e) => e.dial).dial, /rushws_recover/);
    assert.equal(sentSinceLastDial(log)[0].data, "queued", "nothing goes before the queue");
  });

  test("a stored session presented to a server without recovery opens at its first message", async () => {
    for (const greet of [false, true]) {
      const store = new Map([["k", JSON.stringify({ token: "old-token", positions: { all: "abc:1" } })]]);
      globalThis.sessionStorage = {
        getItem: (k) => store.get(k) ?? null,
        setItem: (k, v) => store.set(k, v),
        removeItem: (k) => store.delete(k),
      };
      const srv = await server({ recovery: false, greet });
      const { c, log } = client(srv.url, { sessionStorageKey: "k", recoverTimeout: 10_000 });
      const errors = [];
      c.on("error", (e) => errors.push(e.code));
      c.on("welcome", () => {});
      const start = Date.now();
      const info = await next(c, "open");
      assert.ok(Date.now() - start < 2000, `open took ${Date.now() - start} ms: it waited for the timeout`);
      assert.deepEqual(info, { reconnected: false, attempt: 0, protocol: "", recovered: false, missed: 0 }, `greet ${greet}`);
      assert.deepEqual(log[1].send, { event: "recover", data: { token: "old-token", positions: { all: "abc:1" } } });
      await c.emitWithAck("echo", "sync");
      assert.deepEqual(errors, [], "the server's unknown_event answer to recover is not an app error");
      assert.equal(store.has("k"), false, "the session is given up");
      c.close();
      delete globalThis.sessionStorage;
    }
  });

  test("no answer to the recover message: open after recoverTimeout, with reason timeout", async () => {
    // A server that says nothing until spoken to by the app.
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise((r) => wss.once("listening", r));
    cleanups.push(() => new Promise((r) => wss.close(r)));
    const frames = [];
    wss.on("connection", (s) => {
      s.on("message", (d) => frames.push(JSON.parse(d.toString())));
      cleanups.push(() => s.terminate());
    });
    const store = new Map([["k", JSON.stringify({ token: "tok", positions: {} })]]);
    globalThis.sessionStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) };
    cleanups.push(() => delete globalThis.sessionStorage);

    const { c } = client(`ws://127.0.0.1:${wss.address().port}/ws`, { sessionStorageKey: "k", recoverTimeout: 300 });
    assert.equal(c.emit("hello", 1), true);
    const start = Date.now();
    const info = await next(c, "open");
    assert.ok(Date.now() - start >= 250, "open waited for the answer");
    assert.deepEqual(info, { reconnected: false, attempt: 0, protocol: "", recovered: false, missed: 0, reason: "timeout" });
    await sleep(100);
    assert.deepEqual(frames, [
      { event: "recover", data: { token: "tok", positions: {} } },
      { event: "hello", data: 1 },
    ]);
    assert.equal(store.has("k"), false);
  });

  test("the token changes on every connection, and a spent one is unknown", async () => {
    const srv = await server();
    const t = client(srv.url);
    const { c, log } = t;
    await next(c, "open");
    const first = [...srv.sessions.values()][0].token;
    let info = await dropWhile(srv, t);
    assert.equal(info.recovered, true);
    assert.equal(sentSinceLastDial(log)[0].data.token, first);
    const second = srv.connections.at(-1).session.token;
    assert.notEqual(second, first, "a recovered connection gets a new token");
    info = await dropWhile(srv, t);
    assert.equal(info.recovered, true);
    assert.equal(sentSinceLastDial(log)[0].data.token, second, "the client presents the latest token");
  });

  test("4409: the session was recovered by another connection, so the client drops it and reconnects afresh", async () => {
    const srv = await server();
    const t = client(srv.url);
    const { c, log } = t;
    c.on("chat", () => {});
    const opens = [];
    c.on("open", (e) => {
      opens.push(e);
      if (!e.recovered) c.emit("join", { room: "lobby" });
    });
    await next(c, "open");
    await c.emitWithAck("echo", "sync");
    const token = srv.connections.at(-1).session.token;

    // Another client (a duplicated tab that copied sessionStorage) presents
    // the same session while this one is still connected.
    const closed = next(c, "close");
    const reopened = next(c, "open");
    const other = new WebSocket(srv.url + "?rushws_recover=1");
    cleanups.push(() => other.terminate());
    const otherFirst = new Promise((r) => other.once("message", (d) => r(JSON.parse(d.toString()))));
    await new Promise((r) => other.once("open", r));
    other.send(JSON.stringify({ event: "recover", data: { token, positions: {} } }));
    assert.equal((await otherFirst).data.recovered, true, "the other client holds the session now");

    const info = await closed;
    assert.equal(info.code, 4409);
    assert.equal(info.willReconnect, true);
    assert.match(info.why, /as a new connection/);
    const open = await reopened;
    assert.deepEqual(open, { reconnected: true, attempt: 1, protocol: "", recovered: false, missed: 0 });
    await c.emitWithAck("echo", "sync");
    // The next dial presents nothing: no query parameter, no recover message.
    assert.doesNotMatch(log.findLast((e) => e.dial).dial, /rushws_recover/);
    assert.deepEqual(sentSinceLastDial(log).map((m) => m.event), ["join", "echo"]);
    assert.equal(srv.connections.filter((x) => x.query.get("rushws_recover") === "1").length, 1, "only the other client recovered");
    assert.notEqual(srv.connections.at(-1).session.token, token);
  });

  test("4409 with sessionStorage: the stored session is removed", async () => {
    const store = new Map();
    globalThis.sessionStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)), removeItem: (k) => store.delete(k) };
    cleanups.push(() => delete globalThis.sessionStorage);
    const srv = await server();
    const { c } = client(srv.url, { sessionStorageKey: "k" });
    await next(c, "open");
    const token = JSON.parse(store.get("k")).token;
    const closed = next(c, "close");
    const reopened = next(c, "open");
    const other = new WebSocket(srv.url + "?rushws_recover=1");
    cleanups.push(() => other.terminate());
    await new Promise((r) => other.once("open", r));
    other.send(JSON.stringify({ event: "recover", data: { token, positions: {} } }));
    assert.equal((await closed).code, 4409);
    assert.equal((await reopened).recovered, false);
    await c.emitWithAck("echo", "sync");
    assert.notEqual(JSON.parse(store.get("k")).token, token, "the fresh connection's session replaced the moved one");
  });
});
