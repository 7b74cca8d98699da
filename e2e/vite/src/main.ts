// main.ts is a frontend as a user writes it: it imports the client and its
// types by package name, declares its protocol as two event maps, and
// talks to the test server (e2e/testserver) that serves the built page.
// e2e/package.mjs opens it in Chromium and reads #result.
import { connect, RushwsError, type Client, type CloseInfo, type OpenInfo } from "@rushws/client";

/** What the server emits (its data in, the client's ack reply out). */
interface FromServer {
  welcome(data: { id: string; sub?: string }): void;
  question(data: string): string;
  answer(data: { data?: string; error?: string }): void;
}

/** What the client emits (data in, the server's ack reply out). */
interface ToServer {
  echo(data: { text: string; n: number }): { text: string; n: number };
  ask(data: string): void;
}

const show = (id: string, text: string): void => {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
};

const scheme = location.protocol === "https:" ? "wss" : "ws";
const ws: Client<FromServer, ToServer> = connect<FromServer, ToServer>(`${scheme}://${location.host}/ws`, {
  ackTimeout: 5000,
});

ws.on("open", (info: OpenInfo) => show("state", info.reconnected ? "reconnected" : "open"));
ws.on("close", (info: CloseInfo) => show("state", `closed ${info.code} (${info.why})`));
ws.on("error", (err: RushwsError) => show("result", `error ${err.code}: ${err.message}`));

// The server asks a question with an ack; the listener's return value is
// the reply, and the server sends it back as "answer".
ws.on("question", (q) => `${q} 42`);
ws.on("answer", (a) => {
  show("answer", a.data ?? `error: ${a.error}`);
  const ok = a.data === "6 times 7? 42" && document.getElementById("echo")?.textContent === "héllo from vite 42";
  show("result", ok ? "ok" : `unexpected answer ${JSON.stringify(a)}`);
  ws.close();
});

ws.on("welcome", async (w) => {
  show("id", w.id);
  try {
    const reply = await ws.emitWithAck("echo", { text: "héllo from vite", n: 42 });
    show("echo", `${reply.text} ${reply.n}`);
    ws.emit("ask", "6 times 7?");
  } catch (err) {
    show("result", err instanceof RushwsError ? `echo failed: ${err.code}: ${err.message}` : String(err));
  }
});

// typeChecks is never called: its lines are mistakes the package's types
// must catch (tsc fails on an unused @ts-expect-error), which proves the
// declarations were found through the package's "exports", not "any".
export function typeChecks(c: Client<FromServer, ToServer>): void {
  // @ts-expect-error: "echo" takes { text, n }, not a number.
  c.emit("echo", 42);
  // @ts-expect-error: the client sends no "shout" in ToServer.
  c.emit("shout", "x");
  // @ts-expect-error: the welcome data has no "name".
  c.on("welcome", (w) => w.name);
  // @ts-expect-error: a "question" listener must answer with a string.
  c.on("question", () => 7);
  void c.emitWithAck("echo", { text: "x", n: 1 }).then((r) => {
    // @ts-expect-error: the echo reply has no "missing" field.
    r.missing;
  });
}
