// Types for rushws.js, the browser and Node client for rushws servers.
//
// Describe your protocol as two maps of event name to a function type:
// what the client emits (the parameter is the data, the return type is the
// server's ack reply) and what the server emits (the parameter is the data,
// the return type is what the client's listener replies when the server
// asks for an ack):
//
//   interface ToServer { chat(d: { text: string }): { ok: boolean }; join(d: { room: string }): string[] }
//   interface FromServer { chat(d: { name: string; text: string }): void; ping_me(d: number): string }
//   const ws = connect<FromServer, ToServer>("ws://localhost:8080/ws");
//   ws.emit("chat", { text: "hi" });                 // checked
//   const members = await ws.emitWithAck("join", { room: "lobby" }); // string[]
//   ws.on("chat", (m) => m.name);                    // m: { name: string; text: string }

/** An event map: event name to a function from the data to the ack reply. */
export type EventsMap = { [event: string]: (data: any) => any };

/** The default, untyped event map. */
export interface DefaultEvents {
  [event: string]: (data: any) => any;
}

/** Names that are events of the map (string keys only). */
export type EventNames<M> = keyof M & string;

/** The data type of event E in map M. */
export type EventData<M, E extends keyof M> = M[E] extends (data: infer D) => any ? D : never;

/** The ack reply type of event E in map M. */
export type EventReply<M, E extends keyof M> = M[E] extends (data: any) => infer R ? Awaited<R> : never;

/** The event names the protocol reserves: an app neither emits nor handles them. */
export type ReservedEvent = "error" | "message" | "close" | "ping" | "pong" | "connect" | "session" | "recover";

/**
 * Why a recovery failed, in OpenInfo.reason: the server's reasons (expired:
 * past the window; unknown: no such session; too_far_behind: the history no
 * longer holds the first missed message; history_lost: the store lost the
 * stream; forbidden: the session belongs to another identity), or the
 * client's own timeout (no answer within recoverTimeout).
 */
export type RecoveryFailure = "expired" | "unknown" | "too_far_behind" | "history_lost" | "forbidden" | "timeout";

/** Error codes the server sends in error events and ack errors. */
export type ServerErrorCode = "bad_request" | "unknown_event" | "forbidden" | "rate_limited" | "too_large" | "internal";

/** Error codes the client raises itself. */
export type ClientErrorCode = "timeout" | "disconnected" | "closed" | "queue_full" | "transport" | "connect_failed";

/** RushwsError is what emitWithAck rejects with and what "error" listeners receive. */
export class RushwsError extends Error {
  constructor(code: string, message?: string, data?: unknown);
  /** The server's error code, one of the client's own, or an app's own code. */
  code: ServerErrorCode | ClientErrorCode | (string & {});
  /** The whole data of a server error event. */
  data?: unknown;
}

/** The WebSocket constructor the client uses: the browser's, or the ws package's in Node. */
export interface WebSocketConstructor {
  new (url: string, protocols?: string | string[], options?: any): WebSocketLike;
}

/** The parts of a WebSocket the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  binaryType: string;
  onopen: ((ev: any) => any) | null;
  onmessage: ((ev: { data: any }) => any) | null;
  onerror: ((ev: any) => any) | null;
  onclose: ((ev: { code: number; reason: string; wasClean: boolean }) => any) | null;
  send(data: any): void;
  close(code?: number, reason?: string): void;
}

export interface ClientOptions {
  /** The WebSocket implementation. Optional. Default globalThis.WebSocket (required in Node 20: pass the ws package's). */
  WebSocket?: WebSocketConstructor;
  /**
   * Subprotocols to offer, or a function (possibly async) called before each
   * connection, e.g. ["app.v1", "bearer." + token]; with options.token, just
   * the app's own (["app.v1"]), which the hub lists in core.Config.Subprotocols.
   * Optional. Default none.
   */
  protocols?: string | string[] | (() => string | string[] | undefined | Promise<string | string[] | undefined>);
  /** Third argument to the WebSocket constructor (the ws package's options: headers, origin ...). Optional. Default none. */
  wsOptions?: object;
  /** Reconnect after the connection drops. Optional. Default true. */
  reconnect?: boolean;
  /** Backoff ceiling for the first reconnect attempt, in ms; it doubles per attempt. Optional. Default 500. */
  initialDelay?: number;
  /** Largest backoff ceiling, in ms. Optional. Default 10000. */
  maxDelay?: number;
  /** Consecutive reconnect attempts before giving up. Optional. Default Infinity. */
  maxAttempts?: number;
  /** How long a connection must last, in ms, before the attempt count starts over. Optional. Default 5000. */
  stableAfter?: number;
  /** Sends kept while not connected; beyond it emit returns false. Optional. Default 256. */
  queueSize?: number;
  /** Default emitWithAck timeout in ms (0: none). Optional. Default 10000. */
  ackTimeout?: number;
  /** Decides whether to reconnect after a close not already final. Optional. Default always. */
  shouldReconnect?: (info: CloseEventInfo) => boolean;
  /** Random source for the jitter, in [0, 1). Optional. Default Math.random. */
  random?: () => number;
  /**
   * How long, in ms, "open" waits for the server's answer to a recovery
   * before opening as a new connection with reason "timeout" (0: no limit).
   * Optional. Default 5000.
   */
  recoverTimeout?: number;
  /**
   * Returns the token to authenticate with (a JWT, say), or a Promise of it.
   * It is called before every connection attempt, so a reconnect after the
   * server closed with 4401 "token expired" offers a fresh one. The token
   * is offered as the subprotocol tokenPrefix + token (what middleware.JWT
   * reads by default), after the protocols; the hub must list one of those
   * protocols in core.Config.Subprotocols. Return null (or undefined, or
   * "") when there is no token, a signed-out user say: the client then stops
   * with a close of code 4401 and reason "no token". A throw or rejection
   * counts as a failed attempt ("error" with code connect_failed, then the
   * backoff). After a 4401 the client calls it once more and reconnects
   * once if it returns a different token; it stops when it returns the same
   * token or none, or when the server refuses again before a connection
   * proved itself (got a message from the server, or stayed open for
   * stableAfter ms). The token is never logged nor put in an error.
   * Optional. Default none.
   */
  token?: () => string | null | undefined | Promise<string | null | undefined>;
  /** The subprotocol prefix the token is offered under; it must match the server's middleware.JWTConfig.SubprotocolPrefix. Optional. Default "bearer.". */
  tokenPrefix?: string;
  /**
   * Put the token in this query parameter instead of a subprotocol (the
   * server's TokenLookup must then list "query:<name>"). Query strings end up
   * in access logs: prefer the subprotocol. Optional. Default "" (subprotocol).
   */
  tokenQuery?: string;
  /**
   * Stop after this many connection attempts in a row that fail before the
   * connection opens, with an "error" of code connect_failed and a final
   * "close". A browser sees every refused handshake (a 401 before the
   * upgrade, a refused Origin, no subprotocol in common) as 1006, exactly
   * like a server that is down, so this bound also ends the retries of a
   * long outage: set it (10 is about a minute with the default delays) on
   * pages that would rather show an error than retry forever. Optional.
   * Default Infinity (retry for as long as maxAttempts allows).
   */
  maxConnectFailures?: number;
  /**
   * Keep the recovery session (token and positions) in sessionStorage under
   * this key, so that a reloaded page recovers it; use one key per client
   * of a page. Optional. Default "" (in memory only).
   */
  sessionStorageKey?: string;
}

export interface OpenInfo {
  /** True when this is not the first connection. */
  reconnected: boolean;
  /** Reconnect attempts it took. */
  attempt: number;
  /** The subprotocol the server selected, or "". */
  protocol: string;
  /** True when the server restored the session: its rooms and metadata, and the missed messages. */
  recovered: boolean;
  /** Messages the recovery delivered (to their listeners, before "open"); 0 when not recovered. */
  missed: number;
  /** Set when a recovery was attempted and failed: why. Absent otherwise. */
  reason?: RecoveryFailure | (string & {});
}

export interface CloseEventInfo {
  code: number;
  reason: string;
  wasClean: boolean;
}

export interface CloseInfo extends CloseEventInfo {
  /**
   * False when the client stops: closed by the app, a final close code
   * (1000 from the server, 1008, 4401 unless options.token gives a fresh
   * token, 4403), no token from options.token, or attempts used up.
   */
  willReconnect: boolean;
  /**
   * The HTTP status of a handshake the server refused before the upgrade,
   * when the WebSocket implementation reports it (the ws package in Node
   * does; a browser never does). 401 and 403 are final, as 4401 and 4403.
   */
  status?: number;
  /** The wait before the next attempt, in ms (0 when not reconnecting). */
  delay: number;
  /** The reconnect attempt about to be made, or the number made. */
  attempt: number;
  /** Why the client reconnects or stops, for people. */
  why: string;
}

export interface ReconnectInfo {
  attempt: number;
}

export interface LifecycleEvents {
  open: (info: OpenInfo) => void;
  close: (info: CloseInfo) => void;
  reconnect: (info: ReconnectInfo) => void;
  error: (err: RushwsError) => void;
  message: (data: string | ArrayBuffer) => void;
}

/** A listener for server event E: it may return (or resolve to) the ack reply. */
export type Listener<M, E extends keyof M> = (data: EventData<M, E>) => EventReply<M, E> | Promise<EventReply<M, E>>;

export class Client<In = DefaultEvents, Out = DefaultEvents> {
  /** "connecting", "open", "reconnecting" or "closed" (for good); "open" from the "open" event on (after a recovery's replay). */
  readonly state: "connecting" | "open" | "reconnecting" | "closed";
  /** Sends waiting for a connection. */
  readonly queued: number;
  /** The subprotocol the server selected, or "". */
  readonly protocol: string;

  constructor(url: string | (() => string | Promise<string>), options?: ClientOptions);

  /** emit sends an event; false when the queue is full or the client is closed. */
  emit<E extends Exclude<EventNames<Out>, ReservedEvent>>(event: E, data: EventData<Out, E>): boolean;
  /** emitWithAck sends an event and resolves with the server's reply, or rejects with a RushwsError. */
  emitWithAck<E extends Exclude<EventNames<Out>, ReservedEvent>>(
    event: E,
    data: EventData<Out, E>,
    options?: { timeout?: number },
  ): Promise<EventReply<Out, E>>;
  /** send sends a raw text or binary frame, queued like emit. */
  send(raw: string | ArrayBuffer | ArrayBufferView | Blob): boolean;

  on<E extends keyof LifecycleEvents>(event: E, fn: LifecycleEvents[E]): this;
  on<E extends Exclude<EventNames<In>, keyof LifecycleEvents | ReservedEvent>>(event: E, fn: Listener<In, E>): this;
  once<E extends keyof LifecycleEvents>(event: E, fn: LifecycleEvents[E]): this;
  once<E extends Exclude<EventNames<In>, keyof LifecycleEvents | ReservedEvent>>(event: E, fn: Listener<In, E>): this;
  off(event: string, fn?: (...args: any[]) => any): this;

  /** close closes for good with code (1000, or 3000 to 4999) and reason. */
  close(code?: number, reason?: string): void;
}

/** connect opens a client to url; it connects at once and reconnects by itself. */
export function connect<In = DefaultEvents, Out = DefaultEvents>(
  url: string | (() => string | Promise<string>),
  options?: ClientOptions,
): Client<In, Out>;

/** validEventName reports whether name may be used as an event. */
export function validEventName(name: string): boolean;

/** backoffDelay is the full-jitter delay before reconnect attempt n, in ms. */
export function backoffDelay(attempt: number, initialDelay: number, maxDelay: number, random?: () => number): number;
