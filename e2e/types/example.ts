// example.ts is checked with `tsc --noEmit -p e2e` in CI: it uses the
// client's types as an app would, and the @ts-expect-error lines prove that
// mistakes are caught.
import { connect, RushwsError, type CloseInfo } from "../../client/rushws.js";

interface Message {
  name: string;
  text: string;
  at: string;
}

// What the client emits: data in, the server's ack reply out.
interface ToServer {
  chat(data: { text: string }): { ok: boolean };
  join(data: { room: string }): { room: string; members: string[] };
  typing(data: { typing: boolean }): void;
}

// What the server emits: data in, the client's ack reply out.
interface FromServer {
  chat(data: Message): void;
  joined(data: { name: string; room: string; members: number }): void;
  question(data: string): string;
}

const ws = connect<FromServer, ToServer>("ws://localhost:8080/ws", {
  protocols: () => ["demo.v1", "bearer.token"],
  initialDelay: 250,
  maxDelay: 5000,
  maxAttempts: 10,
  queueSize: 100,
  recoverTimeout: 3000,
  sessionStorageKey: "chat",
});

const sent: boolean = ws.emit("chat", { text: "hello" });
ws.emit("typing", { typing: true });

async function join(room: string): Promise<string[]> {
  const reply = await ws.emitWithAck("join", { room }, { timeout: 5000 });
  return reply.members; // typed: string[]
}

ws.on("chat", (m) => {
  const t: string = m.text;
  void t;
});
ws.on("question", async (q) => q.toUpperCase()); // the ack reply must be a string
ws.once("joined", (p) => void p.members.toFixed());
ws.on("open", (info) => void info.reconnected);
// Rejoin only when the server did not restore the session.
ws.on("open", (info) => {
  if (!info.recovered) ws.emit("typing", { typing: false });
  const n: number = info.missed;
  if (info.reason === "too_far_behind" || info.reason === "timeout") console.log(n);
});
ws.on("close", (info: CloseInfo) => {
  if (!info.willReconnect && info.code === 4401) console.log(info.why);
});
ws.on("error", (err) => {
  if (err instanceof RushwsError && err.code === "rate_limited") console.log(err.message);
});
ws.on("message", (raw) => void (typeof raw === "string" ? raw.length : raw.byteLength));
ws.send(new Uint8Array([1, 2, 3]));
ws.close(1000, "bye");

// @ts-expect-error: the data of "chat" is { text: string }
ws.emit("chat", { txt: "typo" });
// @ts-expect-error: no such event in ToServer
ws.emit("chatt", { text: "x" });
// @ts-expect-error: reserved names cannot be emitted
ws.emit("error", {});
// @ts-expect-error: recovered is a boolean
ws.on("open", (info) => void (info.recovered satisfies string));
// @ts-expect-error: sessionStorageKey is a string
connect("ws://localhost:8080/ws", { sessionStorageKey: true });
// @ts-expect-error: a "question" listener must reply with a string
ws.on("question", (q: string) => q.length);
// @ts-expect-error: Message has no field "body"
ws.on("chat", (m) => m.body);

// A token fetched before every connection attempt, offered as
// "bearer.<token>"; the client stops after refused handshakes.
const authed = connect("wss://example.com/ws", {
  protocols: ["demo.v1"],
  token: async () => (await fetch("/api/ws-token")).text(),
  maxConnectFailures: 10,
});
authed.on("close", (info) => {
  if (!info.willReconnect && (info.code === 4401 || info.status === 401)) console.log(`sign in again: ${info.reason}`);
});
connect("ws://localhost:8080/ws", { token: () => null, tokenQuery: "token" });
// @ts-expect-error: the token is a function that returns it, not the token
connect("ws://localhost:8080/ws", { token: "abc" });
// @ts-expect-error: a token function returns a string (or null), not a number
connect("ws://localhost:8080/ws", { token: () => 42 });

// Untyped use works too.
const loose = connect("ws://localhost:8080/ws");
loose.emit("anything", { at: 1 });
void loose.emitWithAck("anything", 1).then((d) => d);
void sent;
void join;
