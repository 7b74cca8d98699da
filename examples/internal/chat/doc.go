// Package chat is the chat that the example apps serve, written once against
// core so that each app only wires it into its framework.
//
// A connection joins the room named by the route parameter "room" and the
// room gets {"event":"joined","data":{"name","room","members"}}. A client
// sends {"event":"chat","data":{"text":"..."}} (with "ack":n to get
// {"ack":n,"data":{"ok":true}} back) and the whole room, sender included,
// gets {"event":"chat","data":{"name","text","at"}}. When it leaves, the
// room gets "left".
//
// An app mounts [Handle] behind [ValidRoom] on a route with a "room"
// parameter, serves the page from [Page] at "/" and the JS client the page
// imports (client.Handler) at [ClientPath].
//
// # Concurrency
//
// Everything here may be called from any goroutine: [Handle] and
// [ValidRoom] run once per connection on the hub's goroutines, and [Page]
// keeps no state.
package chat
