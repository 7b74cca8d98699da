// Package client embeds rushws.js, the browser and Node client for rushws
// servers, and serves it, so an app ships the client it was built with
// from its own origin (no CDN, no build step) on any route of Echo, Gin or
// net/http:
//
//	mux.Handle("GET /rushws.js", client.Handler())                  // net/http
//	e.GET("/rushws.js", echo.WrapHandler(client.Handler()))          // Echo
//	r.GET("/rushws.js", gin.WrapH(client.Handler()))                 // Gin
//
// and a page imports it as an ES module:
//
//	<script type="module">
//	import { connect } from "/rushws.js?v=VERSION"; // VERSION from client.Version()
//	const ws = connect(`ws://${location.host}/ws`);
//	ws.on("chat", (msg) => console.log(msg));
//	ws.emit("chat", { text: "hello" });
//	</script>
//
// rushws.js speaks the rushws wire protocol (events, acks both ways, error
// events), reconnects with exponential backoff and full jitter, stops after
// closes that retrying cannot fix (4401, 4403, 1008, a normal 1000 from the
// server), and queues sends made while offline. Against a hub with
// connection state recovery on, it keeps its session and presents it when
// it reconnects, so the server restores its rooms and replays what it
// missed; its "open" event says whether that happened (recovered, missed,
// reason). docs/recovery.md in the repository describes the guarantees and
// the wire messages. rushws.d.ts types it for TypeScript editors;
// [TypesHandler] serves it.
//
// # The npm package
//
// A frontend built with a bundler installs the same two files from npm
// instead (npm install @rushws/client; import { connect } from
// "@rushws/client"). client/package.json describes that package; its
// version is [PackageVersion], the version of the Go module release
// without the "v", so a server built with rushws vX.Y.Z and a frontend on
// @rushws/client X.Y.Z run the same client. docs/client-package.md in the
// repository has the details.
//
// # Caching
//
// Responses carry a strong ETag made from the file's SHA-256, so browsers
// revalidate with If-None-Match and get 304 Not Modified when nothing
// changed. A URL whose "v" query parameter equals [Version] is cached for
// a year as immutable, since a new release of the file has a new version
// and therefore a new URL; any other URL is revalidated on each use
// (no-cache), so that an upgrade is never hidden behind a stale copy.
//
// # Concurrency
//
// The handlers keep no state and may serve any number of requests at once.
// The embedded files never change while the program runs.
package client
