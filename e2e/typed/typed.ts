// typed.ts uses the TypeScript that rushws-ts generated from the Go
// declarations in e2e/typed/app (gen/app.d.ts, written by run.sh) with the
// typed client, as an app would. tsc must accept every line, and every
// "@ts-expect-error" line must be an error: a mistake the generated maps
// catch.
import { connect } from "../../client/rushws.js";
import type { BoardClientEvents, BoardServerEvents, Entry, Mood, Post } from "./gen/app.js";

const ws = connect<BoardServerEvents, BoardClientEvents>("ws://localhost:8080/ws");

// Right: the data shapes of the Go structs, optional fields left out, null
// where Go has a pointer or a slice.
const post: Post = { text: "hello", tags: null, reply_to: null };
ws.emit("post", post);
ws.emit("post", { text: "again", mood: "happy", tags: ["a"], reply_to: 42 });
ws.emit("vote:up", 7);

async function acks(): Promise<void> {
  const posted = await ws.emitWithAck("post", post);
  const id: number = posted.id;
  const at: string = posted.at; // time.Time is an RFC 3339 string
  const nothing: void = await ws.emitWithAck("vote:up", 1); // NoReply: void
  void [id, at, nothing];

  // @ts-expect-error: the ack reply of "post" is Posted, which has no text
  const wrong: string = (await ws.emitWithAck("post", post)).text;
  // @ts-expect-error: Posted.id is a number, not a string
  const wrongID: string = (await ws.emitWithAck("post", post)).id;
  // @ts-expect-error: "vote:up" replies nothing usable
  const votes: number = await ws.emitWithAck("vote:up", 1);
  void [wrong, wrongID, votes];
}
void acks;

ws.on("entry", (e: Entry) => {
  const author: string = e.author;
  const text: string = e.post.text; // the tagged embedded struct is a field
  const id: number = e.id; // the untagged embedded struct's fields are promoted
  const votes: number | undefined = e.votes?.["ada"]; // omitempty map: optional
  const avatar: string | null = e.avatar; // []byte: base64 or null
  // @ts-expect-error: json:"-" fields are not sent
  const secret = e.Secret;
  // @ts-expect-error: omitempty makes votes optional: it may be undefined
  const n: Record<string, number> = e.votes;
  void [author, text, id, votes, avatar, secret, n];
});
ws.on("count", (n) => {
  const c: number = n;
  void c;
});

// Wrong event names.
// @ts-expect-error: the client does not send "entry" (the server does)
ws.emit("entry", {} as Entry);
// @ts-expect-error: no such event
ws.emit("posts", post);
// @ts-expect-error: the server sends no "post"
ws.on("post", () => {});

// Wrong data shapes.
// @ts-expect-error: text is required
ws.emit("post", { tags: null, reply_to: null });
// @ts-expect-error: tags is an array of strings (or null)
ws.emit("post", { text: "x", tags: [1], reply_to: null });
// @ts-expect-error: the mood is a union of the Go constants
ws.emit("post", { text: "x", mood: "angry", tags: null, reply_to: null });
// @ts-expect-error: reply_to is a number (a Go *int64), not a string
ws.emit("post", { text: "x", tags: null, reply_to: "1" });
// @ts-expect-error: "vote:up" takes a number
ws.emit("vote:up", "7");
// @ts-expect-error: a listener of "count" gets a number
ws.on("count", (n: string) => n);

const moods: Mood[] = ["happy", "sad"];
// @ts-expect-error: not a Mood
const angry: Mood = "angry";
void [moods, angry];
