// node.mjs is a Node program as a user writes it: it imports the installed
// @rushws/client by name (an ES module, resolved through the package's
// "exports") with the npm ws package as its WebSocket, connects to a rushws
// server and exchanges events with acks both ways:
//
//	node e2e/vite/node.mjs ws://127.0.0.1:PORT/ws
//
// It prints one JSON line ({ version, id, echo, answer }) and exits 0, or
// prints what went wrong and exits 1. e2e/package.mjs runs it.
import { connect, RushwsError } from "@rushws/client";
import pkg from "@rushws/client/package.json" with { type: "json" };
import { WebSocket } from "ws";

const url = process.argv[2];
if (!url) {
  console.error("usage: node node.mjs ws://HOST:PORT/ws");
  process.exit(2);
}

const timer = setTimeout(() => {
  console.error("node.mjs: no answer within 10s");
  process.exit(1);
}, 10_000);

const result = { version: pkg.version, id: "", echo: null, answer: null };
const ws = connect(url, { WebSocket, ackTimeout: 5000 });

const done = new Promise((resolve, reject) => {
  ws.on("error", (err) => reject(err));
  ws.on("close", (info) => {
    if (!info.willReconnect) reject(new Error(`closed ${info.code}: ${info.why}`));
  });
  // The server's question carries an ack: the return value is the reply.
  ws.on("question", (q) => `${q} 42`);
  ws.on("answer", (a) => resolve(a));
  ws.on("welcome", async (w) => {
    result.id = w.id;
    try {
      result.echo = await ws.emitWithAck("echo", { text: "héllo from node", n: 42 });
      ws.emit("ask", "6 times 7?");
    } catch (err) {
      reject(err);
    }
  });
});

try {
  result.answer = await done;
  console.log(JSON.stringify(result));
} catch (err) {
  console.error(`node.mjs: ${err instanceof RushwsError ? `${err.code}: ` : ""}${err?.message ?? err}`);
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  ws.off("close");
  ws.close();
}
