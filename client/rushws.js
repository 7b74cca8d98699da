// rushws.js: the browser and Node client for rushws servers.
//
// A dependency-free ES module; no build step. In a page:
//
//   import { connect } from "/rushws.js";
//   const ws = connect(`ws://${location.host}/ws`);
//   ws.on("chat", (msg) => show(msg));
//   ws.emit("chat", { text: "hello" });
//   const members = await ws.emitWithAck("join", { room: "lobby" }, { timeout: 5000 });
//
// In Node 20 (no global WebSocket), pass an implementation such as the ws
// package: connect(url, { WebSocket: (await import("ws")).WebSocket }).
//
// Wire protocol: events are JSON text frames {"event":name,"data":...}; an
// "ack":n field asks the other side for one reply {"ack":n,"data":...} or
// {"ack":n,"error":{"code":...,"message":...}}, in both directions. The
// server reports errors as {"event":"error","data":{"code","message"}}.
// Binary frames and text that is not an event go to "message" listeners.
//
// The client reconnects with exponential backoff and full jitter, except
// after a close that retrying cannot fix (1000 from the server, 1008, 4401,
// 4403: see NO_RETRY). Sends made while it is not connected wait in a
// bounded queue and go out, in order, once it is.

/** Close codes after which reconnecting cannot help, and why. */
const NO_RETRY = new Map([
  [1000, "the server closed the connection normally"],
  [1008, "the server closed the connection for a policy violation"],
  [4401, "authentication failed or expired"],
  [4403, "forbidden"],
]);

/** Event names the protocol reserves: an app can neither emit nor handle them as events. */
const RESERVED = new Set(["error", "message", "close", "ping", "pong", "connect"]);

/** Events the client itself raises. */
const LIFECYCLE = new Set(["open", "close", "reconnect", "error", "message"]);

const OPEN = 1; // WebSocket.OPEN, the same in every implementation

const DEFAULTS = {
  initialDelay: 500,
  maxDelay: 10_000,
  maxAttempts: Infinity,
  stableAfter: 5_000,
  queueSize: 256,
  ackTimeout: 10_000,
  reconnect: true,
};

/**
 * RushwsError is what emitWithAck rejects with and what "error" listeners
 * receive: code is the server's error code (bad_request, unknown_event,
 * forbidden, rate_limited, too_large, internal) or one of the client's own
 * (timeout, disconnected, closed, queue_full, transport, connect_failed).
 */
export class RushwsError extends Error {
  constructor(code, message, data) {
    super(message || code);
    this.name = "RushwsError";
    this.code = code;
    if (data !== undefined) this.data = data;
  }
}

/**
 * validEventName reports whether name may be used as an event: 1 to 128
 * bytes of UTF-8 without control characters, as the server requires.
 */
export function validEventName(name) {
  if (typeof name !== "string" || name.length === 0 || name.length > 128) return false;
  if (new TextEncoder().encode(name).length > 128) return false;
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name) && name.isWellFormed?.() !== false;
}

/**
 * backoffDelay returns how long to wait before reconnect attempt n (1, 2,
 * ...): a random time between 0 and min(maxDelay, initialDelay * 2^(n-1))
 * ("full jitter"), so that clients dropped together do not come back
 * together.
 */
export function backoffDelay(attempt, initialDelay, maxDelay, random = Math.random) {
  const ceiling = Math.min(maxDelay, initialDelay * 2 ** Math.min(attempt - 1, 30));
  return Math.floor(random() * ceiling);
}

/** connect opens a client to url (a string, or a function returning one, or a Promise of one). */
export function connect(url, options = {}) {
  return new Client(url, options);
}

export class Client {
  #url;
  #opts;
  #WS;
  #ws = null;
  #state = "connecting";
  #closedByUser = false;
  #everOpened = false;
  #attempt = 0;
  #retryTimer = null;
  #stableTimer = null;
  #listeners = new Map(); // event -> [{ fn, once }]
  #queue = []; // { frame, ackId }
  #pending = new Map(); // ackId -> { resolve, reject, timer, sentOn }
  #nextAck = 0;

  constructor(url, options = {}) {
    this.#url = url;
    this.#opts = { ...DEFAULTS, ...options };
    for (const k of ["initialDelay", "maxDelay", "stableAfter", "ackTimeout"]) {
      const v = this.#opts[k];
      if (typeof v !== "number" || !(v >= 0)) throw new TypeError(`rushws: options.${k} must be a number >= 0, got ${String(v)}`);
    }
    if (!(this.#opts.maxAttempts >= 0)) throw new TypeError("rushws: options.maxAttempts must be >= 0");
    if (!(this.#opts.queueSize >= 0)) throw new TypeError("rushws: options.queueSize must be >= 0");
    this.#WS = this.#opts.WebSocket || globalThis.WebSocket;
    if (typeof this.#WS !== "function") {
      throw new TypeError("rushws: no WebSocket implementation: pass options.WebSocket (in Node 20, the ws package's WebSocket)");
    }
    this.#dial();
  }

  /** state is "connecting", "open", "reconnecting" or "closed" (for good). */
  get state() {
    return this.#state;
  }

  /** queued is the number of sends waiting for a connection. */
  get queued() {
    return this.#queue.length;
  }

  /** protocol is the subprotocol the server selected, or "". */
  get protocol() {
    return this.#ws && this.#state === "open" ? this.#ws.protocol || "" : "";
  }

  /**
   * emit sends an event. It returns true when the event was sent or queued,
   * false when the queue is full or the client is closed.
   */
  emit(event, data) {
    checkOutgoing(event);
    return this.#enqueue(encode(event, data, 0), 0);
  }

  /**
   * emitWithAck sends an event that asks for a reply and resolves with the
   * reply's data, or rejects with a RushwsError: the server's error code,
   * or "timeout", "disconnected" (the connection dropped before the reply),
   * "closed" or "queue_full".
   */
  emitWithAck(event, data, { timeout } = {}) {
    checkOutgoing(event);
    const ms = timeout ?? this.#opts.ackTimeout;
    return new Promise((resolve, reject) => {
      if (this.#state === "closed") {
        reject(new RushwsError("closed", "rushws: the client is closed"));
        return;
      }
      const id = ++this.#nextAck;
      const entry = { resolve, reject, timer: null, sentOn: null };
      this.#pending.set(id, entry);
      if (ms > 0 && Number.isFinite(ms)) {
        entry.timer = setTimeout(() => {
          if (this.#pending.get(id) !== entry) return;
          this.#pending.delete(id);
          this.#queue = this.#queue.filter((q) => q.ackId !== id); // the caller gave up: do not send it later
          reject(new RushwsError("timeout", `rushws: no reply to ${JSON.stringify(event)} within ${ms} ms`));
        }, ms);
      }
      if (!this.#enqueue(encode(event, data, id), id)) {
        this.#settle(id, new RushwsError("queue_full", `rushws: ${this.#queue.length} messages already wait for a connection`));
      }
    });
  }

  /**
   * send sends a raw frame: a string as text, an ArrayBuffer, typed array
   * or Blob as binary. It queues like emit and returns the same.
   */
  send(raw) {
    return this.#enqueue(raw, 0);
  }

  /**
   * on adds a listener. For server events, fn receives the data; when the
   * server asked for an ack, the first listener's return value (or the
   * value its Promise resolves to) is the reply, and a throw or rejection
   * is sent as an error. Lifecycle events: "open" ({reconnected, attempt,
   * protocol}), "reconnect" ({attempt}), "close" ({code, reason, wasClean,
   * willReconnect, delay, attempt, why}), "error" (a RushwsError) and
   * "message" (frames that are not events, and events nobody listens to).
   */
  on(event, fn) {
    return this.#add(event, fn, false);
  }

  /** once is like on, but the listener is removed after its first call. */
  once(event, fn) {
    return this.#add(event, fn, true);
  }

  /** off removes fn from event, or every listener of event when fn is omitted. */
  off(event, fn) {
    if (fn === undefined) {
      this.#listeners.delete(event);
      return this;
    }
    const list = this.#listeners.get(event);
    if (!list) return this;
    const i = list.findIndex((l) => l.fn === fn);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  /**
   * close closes the connection for good (no reconnect) with code (1000,
   * or 3000 to 4999) and reason; queued sends are dropped and pending acks
   * rejected with "closed".
   */
  close(code = 1000, reason = "") {
    if (this.#state === "closed") return;
    this.#closedByUser = true;
    this.#state = "closed"; // from now on sends return false
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#stableTimer);
    this.#failQueue("closed", "rushws: the client was closed");
    const ws = this.#ws;
    if (ws) {
      ws.close(code, reason); // its close event finishes the job
    } else {
      this.#finish({ code, reason, wasClean: true }, "closed by the client");
    }
  }

  #add(event, fn, once) {
    if (typeof fn !== "function") throw new TypeError(`rushws: listener for ${JSON.stringify(event)} is not a function`);
    if (!LIFECYCLE.has(event) && !validEventName(event)) throw new TypeError(`rushws: invalid event name ${JSON.stringify(String(event)).slice(0, 140)}`);
    let list = this.#listeners.get(event);
    if (!list) this.#listeners.set(event, (list = []));
    list.push({ fn, once });
    return this;
  }

  // #fire calls the listeners of a lifecycle event. A listener that throws
  // is reported asynchronously, like an EventTarget's, and the others run.
  #fire(event, arg) {
    const list = this.#listeners.get(event);
    if (!list) return false;
    for (const l of [...list]) {
      if (l.once) this.off(event, l.fn);
      try {
        l.fn.call(this, arg);
      } catch (err) {
        reportLater(err);
      }
    }
    return true;
  }

  #enqueue(frame, ackId) {
    if (this.#state === "closed") return false;
    const ws = this.#ws;
    if (this.#state === "open" && ws && ws.readyState === OPEN) {
      this.#transmit(ws, frame, ackId);
      return true;
    }
    if (this.#queue.length >= this.#opts.queueSize) return false;
    this.#queue.push({ frame, ackId });
    return true;
  }

  #transmit(ws, frame, ackId) {
    if (ackId) {
      const p = this.#pending.get(ackId);
      if (!p) return; // timed out meanwhile
      p.sentOn = ws;
    }
    ws.send(frame);
  }

  async #dial() {
    let url;
    let protocols;
    try {
      url = typeof this.#url === "function" ? await this.#url() : await this.#url;
      const p = this.#opts.protocols;
      protocols = typeof p === "function" ? await p() : p;
    } catch (err) {
      if (this.#state === "closed") return;
      this.#fire("error", new RushwsError("connect_failed", `rushws: cannot build the URL or protocols: ${err && err.message ? err.message : err}`));
      this.#closed({ code: 1006, reason: "", wasClean: false });
      return;
    }
    if (this.#state === "closed" || this.#closedByUser) return;
    let ws;
    try {
      ws = this.#opts.wsOptions ? new this.#WS(url, protocols, this.#opts.wsOptions) : new this.#WS(url, protocols);
    } catch (err) {
      this.#fire("error", new RushwsError("connect_failed", `rushws: ${err && err.message ? err.message : err}`));
      this.#closed({ code: 1006, reason: "", wasClean: false });
      return;
    }
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    ws.onopen = () => {
      if (this.#ws !== ws) return;
      this.#opened(ws);
    };
    ws.onmessage = (ev) => {
      if (this.#ws === ws) this.#receive(ws, ev.data);
    };
    ws.onerror = (ev) => {
      if (this.#ws !== ws) return;
      const detail = ev && ev.message ? `: ${ev.message}` : "";
      this.#fire("error", new RushwsError("transport", `rushws: WebSocket error${detail}`));
    };
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#closed({ code: ev.code, reason: ev.reason || "", wasClean: !!ev.wasClean });
    };
  }

  #opened(ws) {
    const reconnected = this.#everOpened;
    const attempt = this.#attempt;
    this.#everOpened = true;
    this.#state = "open";
    clearTimeout(this.#stableTimer);
    // The attempt count starts over only once a connection has lasted, so
    // a server that accepts and drops at once still meets the backoff.
    this.#stableTimer = setTimeout(() => {
      this.#attempt = 0;
    }, this.#opts.stableAfter);
    this.#fire("open", { reconnected, attempt, protocol: ws.protocol || "" });
    if (reconnected) this.#fire("reconnect", { attempt });
    // What "open" listeners sent went first (re-joining rooms, say); now
    // the sends that waited, in their order.
    while (this.#queue.length > 0 && this.#ws === ws && ws.readyState === OPEN) {
      const { frame, ackId } = this.#queue.shift();
      this.#transmit(ws, frame, ackId);
    }
  }

  #closed(info) {
    clearTimeout(this.#stableTimer);
    // Replies to what went out on the dead connection can never come.
    for (const [id, p] of this.#pending) {
      if (p.sentOn) this.#settle(id, new RushwsError("disconnected", `rushws: connection closed (${info.code}) before the reply`));
    }
    if (this.#closedByUser) {
      this.#finish(info, "closed by the client");
      return;
    }
    const should = this.#opts.shouldReconnect;
    let why = NO_RETRY.get(info.code);
    if (!why && typeof should === "function" && !should(info)) why = "options.shouldReconnect declined";
    if (!why && !this.#opts.reconnect) why = "reconnecting is off";
    if (!why && this.#attempt >= this.#opts.maxAttempts) why = `gave up after ${this.#attempt} attempts`;
    if (why) {
      this.#failQueue("closed", `rushws: connection closed for good: ${why}`);
      this.#finish(info, why);
      return;
    }
    this.#attempt++;
    const delay = backoffDelay(this.#attempt, this.#opts.initialDelay, this.#opts.maxDelay, this.#opts.random);
    this.#state = "reconnecting";
    this.#fire("close", { ...info, willReconnect: true, delay, attempt: this.#attempt, why: `reconnecting in ${delay} ms` });
    if (this.#state !== "reconnecting") return; // a listener closed the client
    this.#retryTimer = setTimeout(() => this.#dial(), delay);
  }

  #finish(info, why) {
    this.#state = "closed";
    this.#ws = null;
    this.#fire("close", { ...info, willReconnect: false, delay: 0, attempt: this.#attempt, why });
  }

  #failQueue(code, message) {
    this.#queue = [];
    for (const id of [...this.#pending.keys()]) this.#settle(id, new RushwsError(code, message));
  }

  #settle(id, err, data) {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(data);
  }

  #receive(ws, raw) {
    if (typeof raw !== "string") {
      this.#fire("message", raw);
      return;
    }
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      this.#fire("message", raw);
      return;
    }
    if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
      this.#fire("message", raw);
      return;
    }
    const ack = Number.isSafeInteger(msg.ack) && msg.ack > 0 ? msg.ack : 0;
    if (typeof msg.event !== "string") {
      if (!ack) {
        this.#fire("message", raw);
        return;
      }
      const e = msg.error;
      if (e && typeof e === "object") {
        this.#settle(ack, new RushwsError(String(e.code || "internal"), String(e.message || e.code || "error")));
      } else {
        this.#settle(ack, null, msg.data === undefined ? null : msg.data);
      }
      return;
    }
    const event = msg.event;
    if (event === "error") {
      const d = msg.data && typeof msg.data === "object" ? msg.data : {};
      this.#fire("error", new RushwsError(String(d.code || "internal"), String(d.message || d.code || "error"), msg.data));
      return;
    }
    const list = LIFECYCLE.has(event) || RESERVED.has(event) ? undefined : this.#listeners.get(event);
    if (!list || list.length === 0) {
      if (ack) this.#reply(ws, ack, null, new RushwsError("unknown_event", `no listener for event ${JSON.stringify(event).slice(0, 140)}`));
      else this.#fire("message", raw);
      return;
    }
    const data = msg.data === undefined ? null : msg.data;
    if (!ack) {
      for (const l of [...list]) {
        if (l.once) this.off(event, l.fn);
        try {
          l.fn.call(this, data);
        } catch (err) {
          reportLater(err);
        }
      }
      return;
    }
    // The server asked for a reply: the first listener answers.
    const first = list[0];
    if (first.once) this.off(event, first.fn);
    let result;
    try {
      result = first.fn.call(this, data);
    } catch (err) {
      this.#reply(ws, ack, null, err);
      return;
    }
    Promise.resolve(result).then(
      (value) => this.#reply(ws, ack, value, null),
      (err) => this.#reply(ws, ack, null, err),
    );
  }

  // #reply answers the server's ack on the connection that asked; a reply
  // for a connection that has gone is dropped (the server forgot the ack).
  #reply(ws, ack, value, err) {
    if (this.#ws !== ws || ws.readyState !== OPEN) return;
    let frame;
    if (err) {
      const code = err && typeof err.code === "string" && /^[a-z_]{1,64}$/.test(err.code) ? err.code : "internal";
      const message = String((err && err.message) || err || "error").slice(0, 256);
      frame = JSON.stringify({ ack, error: { code, message } });
    } else {
      try {
        frame = JSON.stringify({ ack, data: value === undefined ? null : value });
      } catch (e) {
        frame = JSON.stringify({ ack, error: { code: "internal", message: `reply cannot be encoded: ${e.message}`.slice(0, 256) } });
      }
    }
    ws.send(frame);
  }
}

function checkOutgoing(event) {
  if (!validEventName(event)) throw new TypeError(`rushws: invalid event name ${JSON.stringify(String(event)).slice(0, 140)}`);
  if (RESERVED.has(event)) throw new TypeError(`rushws: event name ${JSON.stringify(event)} is reserved`);
}

function encode(event, data, ack) {
  const msg = { event, data: data === undefined ? null : data };
  if (ack) msg.ack = ack;
  return JSON.stringify(msg);
}

function reportLater(err) {
  setTimeout(() => {
    throw err;
  }, 0);
}
