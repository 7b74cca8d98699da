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
// 4403: see NO_RETRY); after 4409 (its session was recovered by another
// connection) it drops its session and reconnects as a new connection.
// Sends made while it is not connected wait in a
// bounded queue and go out, in order, once it is.
//
// Authentication: options.token, an async function, is called before every
// connection attempt and its token is offered as the subprotocol
// "bearer.<token>" (the server's middleware.JWT SubprotocolPrefix), or put
// in the query (options.tokenQuery). After 4401 (a token refused or
// expired) the client calls it once more and reconnects once if it returns
// a different token; refused again before the new connection proved itself
// (a message from the server, or stableAfter ms open), or given the same
// token or none (null), the client stops. A handshake the server refuses
// with an HTTP status is only 1006 in a browser: options.maxConnectFailures
// bounds the attempts in a row that fail before opening. The token is
// never logged nor put in an error message.
//
// Connection state recovery: a server with recovery on sends a session
// message first on every connection ({"event":"session","data":{token,
// positions, recovered, reason, missed, id}}) and a "pos" object on every
// event it keeps in a history. The client keeps {token, positions} (in
// memory, or in sessionStorage under options.sessionStorageKey), and
// reconnects with ?rushws_recover=1 and {"event":"recover","data":{token,
// positions}} as its first message; the server answers with a session
// message and the missed messages. When "open" fires: a connection that
// presents no session opens at once (as without recovery); one that
// presents a session opens after the session message and the missed
// messages were delivered, or after the first message if it is not a
// session message (the server does not recover), or after
// options.recoverTimeout. Queued sends go out after "open".

/** Close codes after which reconnecting cannot help, and why. */
const NO_RETRY = new Map([
  [1000, "the server closed the connection normally"],
  [1008, "the server closed the connection for a policy violation"],
  [4401, "authentication failed or expired"],
  [4403, "forbidden"],
]);

/**
 * The close code of a connection whose session another connection
 * recovered (a duplicated tab that copied sessionStorage, say): the session
 * is no longer this client's, so it is dropped, never presented again.
 */
const SESSION_MOVED = 4409;

/** Event names the protocol reserves: an app can neither emit nor handle them as events. */
const RESERVED = new Set(["error", "message", "close", "ping", "pong", "connect", "session", "recover"]);

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
  recoverTimeout: 5_000,
  sessionStorageKey: "",
  token: null,
  tokenPrefix: "bearer.",
  tokenQuery: "",
  maxConnectFailures: Infinity,
};

/** The characters a subprotocol may hold (RFC 7230 tchar): what a token in one must be made of. */
const TCHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The query parameter that tells the server a recover message comes first. */
const RECOVER_PARAM = "rushws_recover=1";

/** A position on the wire: "<epoch>:<offset>". */
const POSITION = /^[A-Za-z0-9_-]{1,32}:[0-9]{1,20}$/;

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
  // Recovery. #session is {token, positions} of the current session, or
  // null; the rest describe the current connection.
  #session = null;
  #presented = null; // the session this connection presents (its URL says so), or null
  #firstMessage = true; // no message has arrived on this connection yet
  #waiting = false; // "open" waits for the session message and the replay
  #replayLeft = 0; // replayed messages still to come before "open"
  #pendingOpen = null; // what "open" will say once the replay is delivered
  #recoverTimer = null;
  #swallowUnknownRecover = false; // a server without recovery may answer "recover" with unknown_event
  #attemptAtOpen = 0; // the reconnect attempt this connection's socket opened on
  // Authentication and failed handshakes.
  #lastToken = null; // the token the last attempt offered (compared, never shown)
  #prefetched = undefined; // a token fetched after a 4401, for the next attempt
  #authRetried = false; // a 4401 was already answered with a fresh token, and no connection proved itself since
  #socketOpened = false; // the current attempt's socket opened
  #proven = false; // the current connection got a message from the server or lasted stableAfter
  #status = 0; // the HTTP status of a refused handshake, when the implementation reports it
  #failedConnects = 0; // attempts in a row that ended before their socket opened

  constructor(url, options = {}) {
    this.#url = url;
    this.#opts = { ...DEFAULTS, ...options };
    for (const k of ["initialDelay", "maxDelay", "stableAfter", "ackTimeout", "recoverTimeout"]) {
      const v = this.#opts[k];
      if (typeof v !== "number" || !(v >= 0)) throw new TypeError(`rushws: options.${k} must be a number >= 0, got ${String(v)}`);
    }
    if (!(this.#opts.maxAttempts >= 0)) throw new TypeError("rushws: options.maxAttempts must be >= 0");
    if (!(this.#opts.maxConnectFailures >= 1)) {
      throw new TypeError(`rushws: options.maxConnectFailures must be a number >= 1 (Infinity: never give up), got ${String(this.#opts.maxConnectFailures)}`);
    }
    const t = this.#opts.token;
    if (t !== null && t !== undefined && typeof t !== "function") {
      throw new TypeError(`rushws: options.token must be a function returning the token (or a Promise of it), got a ${typeof t}`);
    }
    if (typeof this.#opts.tokenPrefix !== "string" || (this.#opts.tokenPrefix !== "" && !TCHARS.test(this.#opts.tokenPrefix))) {
      throw new TypeError(`rushws: options.tokenPrefix must be a string of subprotocol characters, such as "bearer.", got ${JSON.stringify(String(this.#opts.tokenPrefix)).slice(0, 40)}`);
    }
    if (typeof this.#opts.tokenQuery !== "string") throw new TypeError("rushws: options.tokenQuery must be a string (a query parameter name, or \"\")");
    if (!(this.#opts.queueSize >= 0)) throw new TypeError("rushws: options.queueSize must be >= 0");
    if (typeof this.#opts.sessionStorageKey !== "string") throw new TypeError("rushws: options.sessionStorageKey must be a string");
    this.#WS = this.#opts.WebSocket || globalThis.WebSocket;
    if (typeof this.#WS !== "function") {
      throw new TypeError("rushws: no WebSocket implementation: pass options.WebSocket (in Node 20, the ws package's WebSocket)");
    }
    this.#session = this.#loadSession();
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
   * protocol, recovered, missed, reason}: see the file comment for when it
   * fires), "reconnect" ({attempt}), "close" ({code, reason, wasClean,
   * willReconnect, delay, attempt, why, and status: the HTTP status of a
   * handshake refused before the upgrade, where the implementation reports
   * it, as Node's ws package does)}), "error" (a RushwsError) and
   * "message" (frames that are not events, and events nobody listens to).
   * "session" and "recover" are the recovery's own and never reach
   * listeners.
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
   * or 3000 to 4999) and reason; queued sends are dropped, pending acks
   * rejected with "closed", and the recovery session ends (it is removed
   * from sessionStorage: do not call close when a page unloads if the next
   * page should recover).
   */
  close(code = 1000, reason = "") {
    if (this.#state === "closed") return;
    this.#closedByUser = true;
    this.#state = "closed"; // from now on sends return false
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#stableTimer);
    this.#failQueue("closed", "rushws: the client was closed");
    this.#setSession(null); // closed for good: the session ends too
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
    let token;
    this.#socketOpened = false;
    this.#proven = false;
    this.#status = 0;
    try {
      url = typeof this.#url === "function" ? await this.#url() : await this.#url;
      const p = this.#opts.protocols;
      protocols = typeof p === "function" ? await p() : p;
      token = await this.#nextToken();
    } catch (err) {
      if (this.#state === "closed") return;
      this.#fire("error", new RushwsError("connect_failed", `rushws: cannot build the URL, protocols or token: ${err && err.message ? err.message : err}`));
      this.#closed({ code: 1006, reason: "", wasClean: false });
      return;
    }
    if (this.#state === "closed" || this.#closedByUser) return;
    if (token === null) {
      // The app has no token (signed out, say): nothing to connect with.
      this.#stop({ code: 4401, reason: "no token", wasClean: false }, "options.token returned no token");
      return;
    }
    if (token !== undefined) {
      this.#lastToken = token;
      if (this.#opts.tokenQuery) {
        url = withQuery(String(url), this.#opts.tokenQuery, token);
      } else {
        protocols = protocols === undefined || protocols === null ? [] : typeof protocols === "string" ? [protocols] : [...protocols];
        protocols.push(this.#opts.tokenPrefix + token);
      }
    }
    // A client that holds a session presents it: the query parameter tells
    // the server to wait for the recover message (no secret in the URL).
    this.#presented = this.#session;
    if (this.#presented) url = withRecoverParam(String(url));
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
      // The ws package in Node names the status of a refused handshake;
      // browsers never do.
      const status = /Unexpected server response: (\d{3})/.exec(String(ev && ev.message));
      if (status && !this.#socketOpened) this.#status = Number(status[1]);
      const detail = ev && ev.message ? `: ${ev.message}` : "";
      this.#fire("error", new RushwsError("transport", `rushws: WebSocket error${detail}`));
    };
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#closed({ code: ev.code, reason: ev.reason || "", wasClean: !!ev.wasClean });
    };
  }

  // #nextToken returns the token for the next attempt: undefined without
  // options.token, null when the function has none, else a string.
  async #nextToken() {
    if (this.#prefetched !== undefined) {
      const t = this.#prefetched;
      this.#prefetched = undefined;
      return t;
    }
    return this.#callToken();
  }

  // #callToken calls options.token and checks what it returned. Its errors
  // describe the value's type, never the value.
  async #callToken() {
    const fn = this.#opts.token;
    if (typeof fn !== "function") return undefined;
    const t = await fn();
    if (t === null || t === undefined || t === "") return null;
    if (typeof t !== "string") throw new TypeError(`options.token returned a ${typeof t}, not a string (or null when there is no token)`);
    if (!this.#opts.tokenQuery && !TCHARS.test(t)) {
      throw new TypeError("options.token returned a token with characters a subprotocol cannot carry (a JWT, in base64url, can): encode it, or set options.tokenQuery");
    }
    return t;
  }

  #opened(ws) {
    this.#socketOpened = true;
    this.#failedConnects = 0;
    this.#attemptAtOpen = this.#attempt;
    this.#firstMessage = true;
    this.#replayLeft = 0;
    this.#pendingOpen = null;
    this.#swallowUnknownRecover = false;
    clearTimeout(this.#stableTimer);
    // The attempt count starts over only once a connection has lasted, so
    // a server that accepts and drops at once still meets the backoff.
    this.#stableTimer = setTimeout(() => {
      this.#attempt = 0;
      this.#proven = true;
    }, this.#opts.stableAfter);
    const s = this.#presented;
    if (!s) {
      // Nothing to recover: open now, as against a server without recovery.
      // A session message, if one comes first, is kept for the next time.
      this.#ready(ws, { recovered: false, missed: 0 });
      return;
    }
    // The recover message goes first, before anything queued; "open" waits
    // for the server's answer.
    this.#waiting = true;
    ws.send(JSON.stringify({ event: "recover", data: { token: s.token, positions: { ...s.positions } } }));
    const ms = this.#opts.recoverTimeout;
    if (ms === 0 || !Number.isFinite(ms)) return; // no limit
    this.#recoverTimer = setTimeout(() => {
      if (this.#ws !== ws || !this.#waiting || !this.#firstMessage) return;
      // No answer in time: give the session up and open as a new
      // connection (a session message that still comes is kept, see
      // #receive).
      this.#setSession(null);
      this.#ready(ws, { recovered: false, missed: 0, reason: "timeout" });
    }, Math.min(ms, 2 ** 31 - 1));
  }

  // #ready fires "open" for ws and sends what waited.
  #ready(ws, recovery) {
    clearTimeout(this.#recoverTimer);
    this.#waiting = false;
    this.#pendingOpen = null;
    if (this.#ws !== ws || this.#state === "closed") return;
    const reconnected = this.#everOpened;
    const attempt = this.#attemptAtOpen;
    this.#everOpened = true;
    this.#state = "open";
    this.#fire("open", { reconnected, attempt, protocol: ws.protocol || "", ...recovery });
    if (reconnected && this.#ws === ws) this.#fire("reconnect", { attempt });
    // What "open" listeners sent went first (re-joining rooms, say); now
    // the sends that waited, in their order.
    while (this.#queue.length > 0 && this.#ws === ws && ws.readyState === OPEN) {
      const { frame, ackId } = this.#queue.shift();
      this.#transmit(ws, frame, ackId);
    }
  }

  #closed(info) {
    clearTimeout(this.#stableTimer);
    clearTimeout(this.#recoverTimer);
    this.#waiting = false;
    this.#replayLeft = 0;
    this.#pendingOpen = null;
    // Replies to what went out on the dead connection can never come.
    for (const [id, p] of this.#pending) {
      if (p.sentOn) this.#settle(id, new RushwsError("disconnected", `rushws: connection closed (${info.code}) before the reply`));
    }
    if (this.#closedByUser) {
      this.#finish(info, "closed by the client");
      return;
    }
    const opened = this.#socketOpened;
    const proven = this.#proven;
    const status = this.#status;
    this.#socketOpened = false;
    this.#proven = false;
    this.#status = 0;
    if (!opened) this.#failedConnects++;
    if (proven) this.#authRetried = false; // that connection was authenticated
    // A handshake refused with 401 or 403 (known only where the
    // implementation reports the status) means what 4401 and 4403 mean.
    let code = info.code;
    if (status) {
      info = { ...info, status };
      if (!opened && status === 401) code = 4401;
      if (!opened && status === 403) code = 4403;
    }
    // Another connection holds the session now: presenting its token again
    // would take it back (or fail), so the next connection starts afresh.
    const moved = code === SESSION_MOVED;
    if (moved) this.#setSession(null);
    const refresh = code === 4401 && typeof this.#opts.token === "function";
    const should = this.#opts.shouldReconnect;
    let why = refresh ? undefined : NO_RETRY.get(code);
    if (why && code !== info.code) why += ` (HTTP ${status} at the handshake)`;
    if (!why && typeof should === "function" && !should(info)) why = "options.shouldReconnect declined";
    if (!why && !this.#opts.reconnect) why = "reconnecting is off";
    if (why) {
      this.#stop(info, why);
      return;
    }
    if (refresh) {
      if (proven) this.#attempt = 0; // an expiry, not a refusal: come back at once
      this.#refresh(info);
      return;
    }
    this.#schedule(info, moved ? " as a new connection (the session was recovered by another connection)" : "");
  }

  // #refresh answers a 4401 when options.token is set: one more call, and
  // one more attempt if it gives a token other than the refused one.
  async #refresh(info) {
    const detail = info.reason ? info.reason.slice(0, 123) : info.status ? `HTTP ${info.status} at the handshake` : "";
    const what = `authentication failed or expired${detail ? ` (${detail})` : ""}`;
    if (this.#authRetried) {
      this.#stop(info, `${what}: refused again with a fresh token`);
      return;
    }
    this.#authRetried = true;
    this.#state = "reconnecting"; // sends queue while the token comes
    let fresh;
    try {
      fresh = await this.#callToken();
    } catch (err) {
      if (this.#state !== "reconnecting") return; // closed meanwhile
      // A failed refresh may be passing (the token endpoint is down): the
      // next attempt calls the function again, after the backoff.
      this.#fire("error", new RushwsError("connect_failed", `rushws: options.token failed: ${err && err.message ? err.message : err}`));
      if (this.#state === "reconnecting") this.#schedule(info, `, since ${what} and options.token failed`);
      return;
    }
    if (this.#state !== "reconnecting") return; // closed meanwhile
    if (fresh === null) {
      this.#stop(info, `${what}, and options.token returned no token`);
      return;
    }
    if (fresh === this.#lastToken) {
      this.#stop(info, `${what}, and options.token returned the same token`);
      return;
    }
    this.#prefetched = fresh;
    this.#schedule(info, ` with a fresh token, since ${what}`);
  }

  // #schedule reconnects after the backoff, unless the attempts are used up.
  #schedule(info, note) {
    const n = this.#failedConnects;
    let why = "";
    if (this.#attempt >= this.#opts.maxAttempts) {
      why = `gave up after ${this.#attempt} attempts`;
    } else if (n >= this.#opts.maxConnectFailures) {
      why = `gave up after ${n} attempts in a row failed before the connection opened`;
      this.#fire(
        "error",
        new RushwsError(
          "connect_failed",
          `rushws: ${n} connection attempts in a row failed before the connection opened: the server refused the handshake ` +
            "(a browser cannot tell why: a refused token on a route that does not close with 4401, a refused Origin, " +
            "no subprotocol in common) or could not be reached",
        ),
      );
      if (this.#state === "closed") return; // a listener closed the client
    }
    if (why) {
      this.#prefetched = undefined;
      this.#stop(info, why);
      return;
    }
    this.#attempt++;
    const delay = backoffDelay(this.#attempt, this.#opts.initialDelay, this.#opts.maxDelay, this.#opts.random);
    this.#state = "reconnecting";
    this.#fire("close", { ...info, willReconnect: true, delay, attempt: this.#attempt, why: `reconnecting in ${delay} ms${note}` });
    if (this.#state !== "reconnecting") return; // a listener closed the client
    this.#retryTimer = setTimeout(() => this.#dial(), delay);
  }

  // #stop closes the client for good after a close it will not retry.
  #stop(info, why) {
    this.#failQueue("closed", `rushws: connection closed for good: ${why}`);
    this.#finish(info, why);
  }

  #finish(info, why) {
    this.#state = "closed";
    this.#ws = null;
    clearTimeout(this.#recoverTimer);
    // A client closed for good ends its session: a later client with the
    // same sessionStorageKey starts afresh.
    this.#setSession(null);
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
    let msg = null;
    if (typeof raw === "string") {
      try {
        msg = JSON.parse(raw);
      } catch {
        msg = null;
      }
      if (msg === null || typeof msg !== "object" || Array.isArray(msg)) msg = null;
    }
    if (this.#firstMessage) {
      this.#firstMessage = false;
      if (msg && msg.event === "session") {
        this.#onSession(ws, msg.data);
        return;
      }
      if (this.#noRecovery(ws, msg)) return;
      if (this.#ws !== ws) return; // an "open" listener closed the client
    } else if (msg && msg.event === "session") {
      return; // only a connection's first message is its session message; it may hold a token
    }
    this.#deliver(ws, raw, msg);
    // The last replayed message is delivered: now "open", then the queue.
    if (this.#replayLeft > 0 && --this.#replayLeft === 0) this.#ready(ws, this.#pendingOpen);
  }

  // #onSession takes the session message: the session to present next
  // time, and, when "open" waits for it, what the recovery did.
  #onSession(ws, d) {
    const data = d && typeof d === "object" && !Array.isArray(d) ? d : {};
    const token = typeof data.token === "string" && data.token.length > 0 && data.token.length <= 1024 ? data.token : "";
    this.#setSession(token ? { token, positions: cleanPositions(data.positions) } : null);
    if (!this.#waiting) return; // "open" fired already: nothing was presented, or the answer came too late
    clearTimeout(this.#recoverTimer);
    const recovery = { recovered: data.recovered === true, missed: 0 };
    if (recovery.recovered) {
      recovery.missed = Number.isSafeInteger(data.missed) && data.missed > 0 ? data.missed : 0;
    } else {
      recovery.reason = typeof data.reason === "string" && data.reason ? data.reason.slice(0, 64) : "unknown";
    }
    if (recovery.missed > 0) {
      this.#replayLeft = recovery.missed;
      this.#pendingOpen = recovery;
    } else {
      this.#ready(ws, recovery);
    }
  }

  // #noRecovery handles a first message that is not a session message: the
  // server does not do recovery, so the client forgets its session and,
  // when "open" waits, opens now, as a client without recovery would have.
  // It reports whether msg is the server's unknown_event answer to the
  // recover message, which no listener should see.
  #noRecovery(ws, msg) {
    const presented = this.#presented !== null;
    if (this.#session) this.#setSession(null);
    // The recover message was the first thing sent: an unknown_event error
    // as the first answer is about it. When something else came first,
    // that answer may still come: the first unknown_event error naming
    // "recover" is dropped then.
    const answer = presented && msg !== null && msg.event === "error" && !!msg.data && msg.data.code === "unknown_event";
    this.#swallowUnknownRecover = presented && !answer;
    if (this.#waiting) this.#ready(ws, { recovered: false, missed: 0 });
    return answer;
  }

  // #deliver hands one message to listeners, after taking its positions.
  #deliver(ws, raw, msg) {
    // A message from the route (not the session message, which a server
    // may send before it closes a refused connection): this connection was
    // authenticated.
    this.#proven = true;
    if (msg === null) {
      this.#fire("message", raw);
      return;
    }
    if (msg.pos !== undefined) this.#applyPositions(msg.pos);
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
      if (this.#swallowUnknownRecover && d.code === "unknown_event" && /recover/.test(String(d.message))) {
        this.#swallowUnknownRecover = false;
        return;
      }
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

  // #applyPositions records the positions a kept message was appended at:
  // the last one of each stream wins, since a stream's messages arrive in
  // order.
  #applyPositions(pos) {
    const s = this.#session;
    if (!s || !pos || typeof pos !== "object" || Array.isArray(pos)) return;
    let changed = false;
    for (const [stream, p] of Object.entries(pos)) {
      if (stream === "__proto__" || typeof p !== "string" || !POSITION.test(p)) continue;
      s.positions[stream] = p;
      changed = true;
    }
    if (changed) this.#storeSession();
  }

  #setSession(session) {
    this.#session = session;
    this.#storeSession();
  }

  // #storage is sessionStorage when options.sessionStorageKey asks for it
  // and the page has one (not in Node, nor when the browser forbids it).
  #storage() {
    if (!this.#opts.sessionStorageKey) return null;
    try {
      return globalThis.sessionStorage || null;
    } catch {
      return null; // a sandboxed frame throws on access
    }
  }

  #storeSession() {
    const st = this.#storage();
    if (!st) return;
    try {
      if (this.#session) st.setItem(this.#opts.sessionStorageKey, JSON.stringify(this.#session));
      else st.removeItem(this.#opts.sessionStorageKey);
    } catch {
      // Storage full or forbidden: the session stays in memory.
    }
  }

  #loadSession() {
    const st = this.#storage();
    if (!st) return null;
    try {
      const v = JSON.parse(st.getItem(this.#opts.sessionStorageKey) || "null");
      if (v && typeof v.token === "string" && v.token.length > 0 && v.token.length <= 1024) {
        return { token: v.token, positions: cleanPositions(v.positions) };
      }
    } catch {
      // Unreadable: start afresh.
    }
    return null;
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

// cleanPositions copies the well-formed entries of a positions object.
function cleanPositions(positions) {
  const out = {};
  if (!positions || typeof positions !== "object" || Array.isArray(positions)) return out;
  for (const [stream, p] of Object.entries(positions)) {
    if (stream !== "__proto__" && typeof p === "string" && POSITION.test(p)) out[stream] = p;
  }
  return out;
}

// withQuery adds name=value to url's query, before any fragment.
function withQuery(url, name, value) {
  const hash = url.indexOf("#");
  const base = hash >= 0 ? url.slice(0, hash) : url;
  const fragment = hash >= 0 ? url.slice(hash) : "";
  const sep = !base.includes("?") ? "?" : base.endsWith("?") || base.endsWith("&") ? "" : "&";
  return `${base}${sep}${encodeURIComponent(name)}=${encodeURIComponent(value)}${fragment}`;
}

// withRecoverParam adds rushws_recover=1 to url's query.
function withRecoverParam(url) {
  const hash = url.indexOf("#");
  const base = hash >= 0 ? url.slice(0, hash) : url;
  const fragment = hash >= 0 ? url.slice(hash) : "";
  if (/[?&]rushws_recover=/.test(base)) return url;
  const sep = !base.includes("?") ? "?" : base.endsWith("?") || base.endsWith("&") ? "" : "&";
  return base + sep + RECOVER_PARAM + fragment;
}

function reportLater(err) {
  setTimeout(() => {
    throw err;
  }, 0);
}
