// recovery-go.test.mjs tests the JS client's connection state recovery
// against the real Go server (e2e/testserver's /ws/recovery, a hub with
// recovery on), where recovery.test.mjs uses a fake server: a dropped
// connection gets every missed message once, in order, before "open"; and
// a connection whose session another one recovered is closed with 4409 and
// comes back as a new connection, without presenting the session.
//
//	RUSHWS_E2E_SERVER=/tmp/testserver node --test e2e/node/recovery-go.test.mjs
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";

import { connect } from "../../client/rushws.js";
import { next, sleep, start } from "./server.mjs";

let srv;
before(async () => {
  srv = await start();
});
after(async () => {
  await srv.stop();
});

const recStats = async () => (await fetch(srv.url + "/api/ws/recovery/stats")).json();

async function until(cond, what, ms = 5000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

// tracked connects the JS client through a WebSocket that remembers its
// latest socket, the URLs dialed and the session messages received; its
// dials wait while hold() is in force.
function tracked(url) {
  const t = { dials: [], sessions: [], ws: null, gate: Promise.resolve() };
  class TrackingWebSocket extends WebSocket {
    constructor(u, protocols, opts) {
      super(u, protocols, opts);
      t.ws = this;
      t.dials.push(u);
      this.addEventListener("message", (ev) => {
        const m = JSON.parse(ev.data);
        if (m.event === "session") t.sessions.push(m.data);
      });
    }
  }
  let release;
  t.hold = () => (t.gate = new Promise((r) => (release = r)));
  t.release = () => release();
  t.c = connect(
    async () => {
      await t.gate;
      return url;
    },
    { WebSocket: TrackingWebSocket, initialDelay: 20, maxDelay: 50 },
  );
  return t;
}

// raw is a plain ws client of /ws/recovery: it reads its session message
// and can "say" things (acked).
async function raw(query) {
  const ws = new WebSocket(`${srv.ws}/ws/recovery${query}`);
  const msgs = [];
  const waiters = [];
  ws.on("message", (d) => {
    msgs.push(JSON.parse(d.toString()));
    for (const w of waiters.splice(0)) w();
  });
  await new Promise((r, j) => {
    ws.once("open", r);
    ws.once("error", j);
  });
  let ack = 0;
  const r = {
    ws,
    msgs,
    async nextMsg() {
      while (msgs.length === 0) await new Promise((w) => waiters.push(w));
      return msgs.shift();
    },
    async say(data) {
      const n = ++ack;
      ws.send(JSON.stringify({ event: "say", data, ack: n }));
      await until(() => msgs.some((m) => m.ack === n), `the ack of say ${data}`);
    },
  };
  return r;
}

describe("recovery against the Go server", () => {
  test("a dropped connection gets every missed message once, in order, before open", async () => {
    const room = `drop-${Date.now()}`;
    const a = tracked(`${srv.ws}/ws/recovery?room=${room}`);
    const got = [];
    a.c.on("said", (d) => got.push(d));
    await next(a.c, "open");
    const b = await raw(`?room=${room}`);
    assert.equal((await b.nextMsg()).event, "session");
    await b.say(0);
    await until(() => got.length === 1, "A hears B");
    const { connections } = await recStats();

    // The network dies under A (no close frame); A's next dial waits.
    a.hold();
    const closed = next(a.c, "close");
    a.ws.terminate();
    assert.equal((await closed).willReconnect, true);
    await until(async () => (await recStats()).connections === connections - 1, "the server notices the drop");
    for (const i of [1, 2, 3]) await b.say(i);

    const opened = next(a.c, "open");
    let atOpen = null;
    a.c.once("open", () => (atOpen = [...got]));
    a.release();
    const info = await opened;
    assert.equal(info.recovered, true);
    assert.equal(info.missed, 3);
    assert.deepEqual(atOpen, [0, 1, 2, 3], "the missed messages were delivered before open");
    assert.match(a.dials.at(-1), /rushws_recover=1/);
    assert.notEqual(a.sessions.at(-1).token, a.sessions.at(-2).token, "a new token on every connection");
    assert.equal(a.sessions.at(-1).id, a.sessions.at(-2).id, "the same connection ID");

    await b.say(4);
    await until(() => got.length === 5, "A hears what comes next");
    await sleep(100);
    assert.deepEqual(got, [0, 1, 2, 3, 4], "each message once, in order");
    a.c.close();
    b.ws.close();
  });

  test("4409: another connection recovered the session, so the client comes back as a new connection", async () => {
    const before = (await recStats()).recovery;
    const a = tracked(`${srv.ws}/ws/recovery?room=moved`);
    await next(a.c, "open");
    // A first connection opens at once; its session message may come after.
    await until(() => a.sessions.length > 0, "A's session message");
    const session = a.sessions.at(-1);

    // A copy of the session (a duplicated tab) recovers it while A is
    // still connected: the server closes A with 4409.
    const closed = next(a.c, "close");
    const reopened = next(a.c, "open");
    const other = await raw("?rushws_recover=1");
    other.ws.send(JSON.stringify({ event: "recover", data: { token: session.token, positions: session.positions } }));
    const first = await other.nextMsg();
    assert.equal(first.event, "session");
    assert.equal(first.data.recovered, true);
    assert.equal(first.data.id, session.id);

    const info = await closed;
    assert.equal(info.code, 4409);
    assert.equal(info.willReconnect, true);
    const open = await reopened;
    assert.equal(open.recovered, false);
    assert.ok(!("reason" in open), "nothing was presented, so nothing failed");
    assert.doesNotMatch(a.dials.at(-1), /rushws_recover/, "the session was dropped, not presented");
    // A new connection opens at once; its session message may come after.
    await until(() => a.sessions.at(-1).id !== session.id, "the new connection's session message");
    assert.notEqual(a.sessions.at(-1).id, session.id, "a new connection");
    assert.equal((await recStats()).recovery.takenOver, before.takenOver + 1);
    assert.equal(await a.c.emitWithAck("echo", "still works"), "still works");
    a.c.close();
    other.ws.close();
  });
});
