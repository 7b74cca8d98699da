// server.mjs starts and stops the Go test server (e2e/testserver) for the
// Node tests. RUSHWS_E2E_SERVER names the built binary (e2e/run.sh builds
// it); without it the tests fail rather than skip.
import { spawn } from "node:child_process";

export const SERVER_BIN = process.env.RUSHWS_E2E_SERVER;

/**
 * start runs the test server on addr (a free port by default) and resolves
 * with { url, ws, addr, stop } once it prints its address.
 */
export function start(addr = "127.0.0.1:0") {
  if (!SERVER_BIN) throw new Error("set RUSHWS_E2E_SERVER to the built e2e/testserver binary (bash e2e/run.sh does)");
  const proc = spawn(SERVER_BIN, ["-addr", addr], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stderr.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`test server did not start within 10s; stderr:\n${err}`)), 10_000);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`test server exited with ${code}; stderr:\n${err}`));
    });
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      proc.removeAllListeners("exit");
      const url = m[1];
      resolve({
        url,
        ws: url.replace(/^http/, "ws"),
        addr: url.replace(/^http:\/\//, ""),
        stderr: () => err,
        // stop ends the server with signal (SIGTERM: a graceful 1001 to
        // every client; SIGKILL: connections just drop) and waits for it.
        stop(signal = "SIGTERM") {
          return new Promise((res) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return res();
            proc.once("exit", () => res());
            proc.kill(signal);
          });
        },
      });
    });
  });
}

/** stats fetches the server's hub counters. */
export async function stats(url) {
  const r = await fetch(url + "/api/ws/stats");
  if (!r.ok) throw new Error(`GET /api/ws/stats: ${r.status}`);
  return r.json();
}

/** token fetches a token for /ws/auth with the given subject and lifetime ("2s", "-1s"). */
export async function token(url, sub, ttl) {
  const r = await fetch(`${url}/token?sub=${encodeURIComponent(sub)}&ttl=${encodeURIComponent(ttl)}`);
  if (!r.ok) throw new Error(`GET /token: ${r.status}`);
  return r.text();
}

/** next resolves with the next call of client.once(event), or rejects after ms. */
export function next(client, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off(event, fn);
      reject(new Error(`no ${JSON.stringify(event)} within ${ms} ms`));
    }, ms);
    const fn = (arg) => {
      clearTimeout(timer);
      resolve(arg);
    };
    client.once(event, fn);
  });
}

/** sleep waits ms milliseconds. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
