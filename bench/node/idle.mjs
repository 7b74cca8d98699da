// Idle connections as users' Node.js clients open them, for the "idle-ws"
// scenario of bench/run.sh: npm ws with its default options (so
// permessage-deflate is offered) and an Origin header of the server's own
// origin, each connection on its own room path /ws/idle-N, dialed from
// rotating source addresses 127.0.0.2 to 127.0.0.254.
//
// It reads the server's RSS from /proc/<pid>/status (VmRSS) before the
// first dial and after the hold, without asking the server anything first
// (the figure as read: no GC forced), then the goroutines and the heap from
// the server's stats, and the freed figures from a benchserver (its
// /stats?free=1 runs runtime.GC and debug.FreeOSMemory). An unmodified app
// (examples/echo-chat) is read through its Prometheus endpoint instead: it
// has no way to force a GC, so its freed figures are null.
//
// It prints one JSON line, in the shape of cmd/loadgen's, and exits 1 on a
// failed dial or when -timeout passes.
//
//	node idle.mjs -impl raw-lean -pid 1234 -url ws://127.0.0.1:18080 \
//	  -stats http://127.0.0.1:18081 -conns 10000 -hold 2s
//	node idle.mjs -impl echo-chat -pid 1234 -url ws://127.0.0.1:18080 \
//	  -metrics http://127.0.0.1:18080/admin/metrics -conns 10000 -hold 2s
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const usage = `flags: -impl NAME -pid PID -url ws://HOST:PORT (-stats URL | -metrics URL)
  [-conns 10000] [-concurrency 32] [-hold 2s] [-heartbeat off] [-rep 1] [-mode full]
  [-timeout 3m] [-max-cpu 0.9]`;

function parseFlags(argv) {
  const f = {
    impl: '', pid: 0, url: '', stats: '', metrics: '', conns: 10000, concurrency: 32,
    hold: '2s', heartbeat: 'off', rep: 1, mode: '', timeout: '3m', 'max-cpu': 0.9,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--?/, '');
    if (!(k in f) || i + 1 >= argv.length) {
      throw new Error(`unknown or incomplete flag ${argv[i]}\n${usage}`);
    }
    const v = argv[++i];
    f[k] = typeof f[k] === 'number' ? Number(v) : v;
  }
  if (!f.impl || !f.pid || !f.url || (!f.stats && !f.metrics)) {
    throw new Error(usage);
  }
  return f;
}

// duration parses "2s", "500ms", "3m" into milliseconds.
function duration(s) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(s);
  if (!m) throw new Error(`bad duration ${s}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60000 }[m[2]];
}

// vmRSS returns the process's resident set size in bytes.
function vmRSS(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

async function getJSON(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.json();
}

// metrics reads the Prometheus text format's unlabelled samples.
async function metrics(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  const out = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

// serverFigures is what the server says of itself: goroutines, heap in use
// as read, and (benchserver only) the figures after its GC and
// FreeOSMemory.
async function serverFigures(f, free) {
  if (f.stats) {
    const st = await getJSON(`${f.stats}/stats${free ? '?free=1' : ''}`);
    return {
      goroutines: st.goroutines,
      heapRead: free ? st.heap_inuse_as_read : st.heap_inuse,
      heap: st.heap_inuse,
      stack: st.stack_inuse,
      rssFreed: free ? st.rss_freed : null,
      conns: st.conns,
      ping: st.ping_interval / 1e9,
      readMode: st.read_mode,
    };
  }
  const m = await metrics(f.metrics);
  return {
    goroutines: m.go_goroutines,
    heapRead: m.go_memstats_heap_inuse_bytes,
    heap: null,
    stack: m.go_memstats_stack_inuse_bytes,
    rssFreed: null,
    conns: m.rushws_connections,
    ping: null,
    readMode: null,
  };
}

const round = (v, places) => (v === null || Number.isNaN(v) ? null : Math.round(v * 10 ** places) / 10 ** places);
const perConn = (after, before, n) => (after == null || before == null ? null : round((after - before) / n, 1));

async function main() {
  const f = parseFlags(process.argv.slice(2));
  const timer = setTimeout(() => {
    process.stderr.write(`idle.mjs: ${f.impl}: timeout after ${f.timeout}\n`);
    process.exit(3);
  }, duration(f.timeout));
  timer.unref();
  const n = f.conns;
  const origin = f.url.replace(/^ws/, 'http');

  // Baseline: a benchserver is freed first (the same clean start for every
  // implementation), then its RSS is read as it is.
  const base = await serverFigures(f, true);
  await new Promise((r) => setTimeout(r, 100));
  const baseRSS = vmRSS(f.pid);

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const conns = new Array(n);
  let dead = 0;
  let pings = 0;
  let messages = 0;
  let next = 0;
  let holding = false;
  const dialOne = (i) => new Promise((resolve, reject) => {
    const ws = new WebSocket(`${f.url}/ws/idle-${i}`, {
      origin,
      localAddress: `127.0.0.${2 + (i % 253)}`,
    });
    ws.on('open', () => resolve(ws));
    ws.on('error', (err) => reject(new Error(`dial ${i + 1} of ${n}: ${err.message}`)));
    ws.on('unexpected-response', (_req, res) => reject(new Error(`dial ${i + 1} of ${n}: HTTP ${res.statusCode}`)));
    ws.on('ping', () => { pings++; });
    ws.on('message', () => { messages++; });
    ws.on('close', () => { if (holding) dead++; });
  });
  const worker = async () => {
    while (next < n) {
      const i = next++;
      conns[i] = await dialOne(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(f.concurrency, n) }, worker));
  const dialMs = performance.now() - t0;
  holding = true;

  await new Promise((r) => setTimeout(r, duration(f.hold)));
  const rss = vmRSS(f.pid); // first: the figure as read
  const st = await serverFigures(f, true);
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) * 1000;
  const share = (cpu.user + cpu.system) / wall;

  const r = {
    conns: n,
    heartbeat: f.heartbeat,
    hold_s: duration(f.hold) / 1000,
    dial_per_s: Math.round(n / (dialMs / 1000)),
    client: `ws ${JSON.parse(readFileSync(new URL('./node_modules/ws/package.json', import.meta.url), 'utf8')).version}, node ${process.versions.node}, default options, Origin ${origin}`,
    server_conns: st.conns ?? null,
    client_dead: dead,
    pings_per_conn: round(pings / n, 3),
    messages_per_conn: round(messages / n, 3),
    rss_before_free_per_conn: perConn(rss, baseRSS, n),
    rss_per_conn: perConn(st.rssFreed, base.rssFreed, n),
    heap_inuse_as_read_per_conn: perConn(st.heapRead, f.stats ? base.heap : base.heapRead, n),
    heap_inuse_per_conn: perConn(st.heap, base.heap, n),
    stack_per_conn: perConn(st.stack, base.stack, n),
    goroutines_per_conn: round((st.goroutines - base.goroutines) / n, 3),
    base_rss_as_read: baseRSS,
    rss_as_read: rss,
    rss_freed: st.rssFreed,
    base_goroutines: base.goroutines,
    goroutines: st.goroutines,
    server_ping_interval_s: st.ping,
    read_mode: st.readMode,
    client_cpu: round(share, 3),
    valid: share <= f['max-cpu'],
    impl: f.impl,
    scenario: 'idle-ws',
    rep: f.rep,
    mode: f.mode,
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  if (!f.stats) r.note = 'unmodified app: figures from its Prometheus endpoint; no GC can be forced, so no freed figures';
  if ((st.conns != null && st.conns !== n) || dead !== 0) {
    r.valid = false;
    r.note = 'connections lost during the hold';
  }
  process.stdout.write(`${JSON.stringify(r)}\n`);

  holding = false;
  for (const ws of conns) ws.terminate();
}

main().catch((err) => {
  process.stderr.write(`idle.mjs: ${err.message}\n`);
  process.exit(1);
});
