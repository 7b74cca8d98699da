// recoveryserver.mjs is a small rushws-like server on the npm ws package
// that implements the connection state recovery wire design (docs/recovery.md)
// for the tests of client/rushws.js: streams with bounded histories and
// epochs, positions in "pos", the session message, the recover message, the
// replay of missed messages, every failure reason, a new token on every
// connection, and 4409 for a connection whose session another one took. It is a test double,
// kept small: one process, everything in memory.
//
// Client events it handles: "join" {room} and "leave" {room} (ack reply:
// the room), "echo" (ack reply: the data; without an ack, the data comes
// back as an "echo" event), anything else: unknown_event, as rushws does.
import { randomBytes } from "node:crypto";
import { WebSocketServer } from "ws";

const newToken = () => randomBytes(32).toString("base64url");
const newEpoch = () => randomBytes(6).toString("base64url");

/**
 * startRecoveryServer listens on a free port of 127.0.0.1. Options:
 * recovery (default true: sessions and histories; false: a server without
 * recovery), greet (send {"event":"welcome"} when the route handler runs),
 * historySize (messages kept per stream, default 100), window (ms a
 * disconnected session stays recoverable, default 60000), waitRecover (ms
 * to wait for the recover message, default 2000).
 */
export async function startRecoveryServer(options = {}) {
  const opts = { recovery: true, greet: false, historySize: 100, window: 60_000, waitRecover: 2000, ...options };
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((resolve) => wss.once("listening", resolve));
  const url = `ws://127.0.0.1:${wss.address().port}/ws`;

  const streams = new Map(); // key -> { epoch, offset, entries: [{ offset, seq, frame }] }
  const sessions = new Map(); // token -> session
  const live = new Set(); // connections with a session, for delivery
  const connections = []; // every connection, for the tests: { url, query, frames, sock, session }
  let seq = 0;

  const stream = (key) => {
    let s = streams.get(key);
    if (!s) streams.set(key, (s = { epoch: newEpoch(), offset: 0, entries: [] }));
    return s;
  };
  // The stream keys of a session, by wire name.
  const streamsOf = (session) => {
    const m = new Map([
      ["conn", `conn:${session.id}`],
      ["all", "all"],
    ]);
    for (const r of session.rooms) m.set(`room:${r}`, `room:${r}`);
    return m;
  };
  const position = (key) => {
    const s = stream(key);
    return `${s.epoch}:${s.offset}`;
  };
  const positionsOf = (session) => Object.fromEntries([...streamsOf(session)].map(([wire, key]) => [wire, position(key)]));

  // publish appends one message to the streams (wire name -> key) and
  // sends the same frame, with its positions, to every live member.
  const publish = (targets, event, data, members) => {
    const n = ++seq;
    const pos = {};
    const appended = [];
    for (const [wire, key] of targets) {
      const s = stream(key);
      s.offset++;
      pos[wire] = `${s.epoch}:${s.offset}`;
      appended.push(s);
    }
    const frame = JSON.stringify({ event, data, pos });
    for (const s of appended) {
      s.entries.push({ offset: s.offset, seq: n, frame });
      while (s.entries.length > opts.historySize) s.entries.shift();
    }
    for (const c of members) c.sock.send(frame);
    return frame;
  };
  const membersOf = (room) => [...live].filter((c) => c.session.rooms.has(room));

  // recover checks a recover message and returns { session, missed } or { reason }.
  const recover = (data, user) => {
    if (!data || typeof data !== "object" || typeof data.token !== "string") return { reason: "unknown" };
    const session = sessions.get(data.token);
    if (!session) return { reason: "unknown" };
    if (session.user !== user) return { reason: "forbidden" };
    if (session.conn) {
      // The old connection is still open here (the client saw it drop
      // first, or another client presented its token): the new one takes
      // over, and the old one is closed with 4409, as rushws does.
      live.delete(session.conn);
      session.conn.sock.close(4409, "session recovered elsewhere");
      session.conn = null;
    } else if (Date.now() - session.disconnectedAt > opts.window) {
      return { reason: "expired" };
    }
    const presented = data.positions && typeof data.positions === "object" ? data.positions : {};
    const missed = new Map(); // seq -> frame: a multi-room message once
    for (const [wire, key] of streamsOf(session)) {
      const p = typeof presented[wire] === "string" ? presented[wire] : session.joined[wire];
      const m = /^([A-Za-z0-9_-]{1,32}):([0-9]{1,20})$/.exec(p || "");
      if (!m) return { reason: "unknown" };
      const s = stream(key);
      if (m[1] !== s.epoch) return { reason: "history_lost" };
      const from = Number(m[2]);
      if (from >= s.offset) continue;
      if (s.entries.length === 0 || s.entries[0].offset > from + 1) return { reason: "too_far_behind" };
      for (const e of s.entries) if (e.offset > from) missed.set(e.seq, e.frame);
    }
    return { session, missed: [...missed.entries()].sort((a, b) => a[0] - b[0]).map(([, f]) => f) };
  };

  const handle = (c, text) => {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    const reply = (data) => {
      if (msg.ack) c.sock.send(JSON.stringify({ ack: msg.ack, data }));
    };
    const session = c.session;
    switch (msg.event) {
      case "join":
        if (session) {
          session.rooms.add(msg.data.room);
          session.joined[`room:${msg.data.room}`] = position(`room:${msg.data.room}`);
        }
        return reply(msg.data.room);
      case "leave":
        session?.rooms.delete(msg.data.room);
        return reply(msg.data.room);
      case "echo":
        if (msg.ack) return reply(msg.data);
        return c.sock.send(JSON.stringify({ event: "echo", data: msg.data }));
      default: {
        const error = { code: "unknown_event", message: `no handler for event ${JSON.stringify(msg.event)}` };
        if (msg.ack) return c.sock.send(JSON.stringify({ ack: msg.ack, error }));
        return c.sock.send(JSON.stringify({ event: "error", data: error }));
      }
    }
  };

  // start begins a connection's life as a new or a recovered session.
  const start = (c, user, result) => {
    let session = result?.session;
    let info;
    if (session) {
      info = { recovered: true, missed: result.missed.length };
      // The token changes on every connection: the one presented is spent.
      sessions.delete(session.token);
      session.token = newToken();
      sessions.set(session.token, session);
    } else {
      session = { id: newToken().slice(0, 12), token: newToken(), user, rooms: new Set(), joined: {}, conn: null, disconnectedAt: 0 };
      sessions.set(session.token, session);
      info = { recovered: false, missed: 0 };
      if (result?.reason) info.reason = result.reason;
    }
    session.conn = c;
    c.session = session;
    const positions = positionsOf(session);
    if (!result?.session) session.joined = { ...positions };
    c.sock.send(JSON.stringify({ event: "session", data: { id: session.id, token: session.token, ...info, positions } }));
    for (const f of result?.missed || []) c.sock.send(f);
    live.add(c);
    if (opts.greet) c.sock.send(JSON.stringify({ event: "welcome", data: { id: session.id } }));
  };

  wss.on("connection", (sock, req) => {
    const query = new URL(req.url, "http://x").searchParams;
    const c = { url: req.url, query, frames: [], sock, session: null };
    connections.push(c);
    const user = query.get("user") || "";
    let phase = "live";
    const buffered = [];
    sock.on("message", (data) => {
      const text = data.toString();
      c.frames.push(text);
      if (phase === "live") return handle(c, text);
      if (phase === "buffer") return buffered.push(text);
      // The first message of a connection that said rushws_recover=1.
      clearTimeout(timer);
      phase = "buffer";
      let msg;
      try {
        msg = JSON.parse(text);
      } catch {
        msg = null;
      }
      if (msg && msg.event === "recover") {
        start(c, user, recover(msg.data, user));
      } else {
        start(c, user, { reason: "unknown" });
        buffered.unshift(text); // not a recover message: handled as usual
      }
      phase = "live";
      for (const t of buffered.splice(0)) handle(c, t);
    });
    sock.on("close", () => {
      live.delete(c);
      if (c.session && c.session.conn === c) {
        c.session.conn = null;
        c.session.disconnectedAt = Date.now();
      }
    });
    let timer = null;
    if (!opts.recovery) {
      if (opts.greet) sock.send(JSON.stringify({ event: "welcome", data: {} }));
      return;
    }
    if (query.get("rushws_recover") === "1") {
      phase = "recover";
      timer = setTimeout(() => {
        phase = "live";
        start(c, user, { reason: "unknown" });
      }, opts.waitRecover);
      return;
    }
    start(c, user, null);
  });

  return {
    url,
    connections,
    sessions,
    /** toRoom sends an event kept in room's history to its members. */
    toRoom: (room, event, data) => publish([[`room:${room}`, `room:${room}`]], event, data, membersOf(room)),
    /** toRooms sends one message to several rooms: one "pos" entry per room, each member once. */
    toRooms: (rooms, event, data) =>
      publish(
        rooms.map((r) => [`room:${r}`, `room:${r}`]),
        event,
        data,
        [...live].filter((c) => rooms.some((r) => c.session.rooms.has(r))),
      ),
    /** broadcast sends an event kept in the "all" stream to everyone. */
    broadcast: (event, data) => publish([["all", "all"]], event, data, [...live]),
    /** toSession sends an event kept in the session's own "conn" stream. */
    toSession: (session, event, data) => publish([["conn", `conn:${session.id}`]], event, data, session.conn ? [session.conn] : []),
    /** volatile sends to a room's live members without keeping it: no "pos". */
    volatile: (room, event, data) => {
      for (const c of membersOf(room)) c.sock.send(JSON.stringify({ event, data }));
    },
    /** raw sends a text frame that is not an event: not kept. */
    raw: (room, text) => {
      for (const c of membersOf(room)) c.sock.send(text);
    },
    /** position is the current "<epoch>:<offset>" of a stream key ("all", "room:x", "conn:<id>"). */
    position,
    /** loseHistory gives a stream a new epoch, as a store that lost its data. */
    loseHistory: (key) => {
      streams.set(key, { epoch: newEpoch(), offset: 0, entries: [] });
    },
    /** forgetSessions drops every session, as a restarted store would. */
    forgetSessions: () => sessions.clear(),
    /** dropAll ends every connection without a close frame (code 1006 at the client). */
    dropAll: () => {
      for (const c of wss.clients) c.terminate();
    },
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}
