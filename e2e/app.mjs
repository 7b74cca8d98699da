// app.mjs starts and stops an example app's binary for the browser tests
// that need to kill and restart it.
import { spawn } from "node:child_process";

/**
 * startApp runs bin with -addr addr and extra args, and resolves once it
 * prints "listening on http://...", with { url, addr, proc, stderr() }.
 */
export function startApp(bin, addr, args = [], env = {}) {
  const proc = spawn(bin, ["-addr", addr, ...args], {
    env: { ...process.env, GIN_MODE: "release", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const app = { proc, out: "", err: "", stderr: () => app.err };
  proc.stderr.on("data", (d) => (app.err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin} did not print its URL within 10s; stderr:\n${app.err}`)), 10_000);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited with ${code}; stderr:\n${app.err}`));
    });
    proc.stdout.on("data", (d) => {
      app.out += d;
      const m = /listening on (http:\/\/\S+)/.exec(app.out);
      if (!m || app.url) return;
      clearTimeout(timer);
      proc.removeAllListeners("exit");
      app.url = m[1];
      app.addr = app.url.replace(/^http:\/\//, "");
      resolve(app);
    });
  });
}

/** stopApp ends the app with signal (SIGTERM: graceful; SIGKILL: at once) and waits for it. */
export function stopApp(app, signal = "SIGTERM") {
  return new Promise((resolve) => {
    if (app.proc.exitCode !== null || app.proc.signalCode !== null) return resolve();
    app.proc.once("exit", () => resolve());
    app.proc.kill(signal);
  });
}
