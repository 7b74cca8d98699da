// Package protocol declares an app's WebSocket protocol once, in Go: the
// events a client sends (with the type of their data and of the server's
// ack reply) and the events the server sends (with the type of their data).
// Handlers registered from a declaration are checked by the Go compiler,
// and the command rushws-ts reads the same declaration to write the
// TypeScript event maps that the JS client (client/rushws.d.ts) accepts, so
// the two sides cannot drift apart:
//
//	var (
//		Chat   = protocol.Client[ChatIn, ChatAck]("chat")
//		Typing = protocol.Client[TypingIn, protocol.NoReply]("typing")
//		Said   = protocol.Server[ChatOut]("said")
//
//		// Chat is what cmd/rushws-ts looks for: a package-level
//		// *protocol.Protocol made by New.
//		ChatProtocol = protocol.New("chat", Chat, Typing, Said)
//	)
//
//	//go:generate go run github.com/rushws/rushws/cmd/rushws-ts -o web/protocol.d.ts .
//
//	func route(c *core.Conn) error {
//		return Chat.Handle(c, func(c *core.Conn, in ChatIn) (ChatAck, error) {
//			_, err := Said.EmitTo(c.To("lobby"), ChatOut{Text: in.Text})
//			return ChatAck{OK: err == nil}, err
//		})
//	}
//
// The generated file exports one TypeScript interface per Go struct and two
// event maps per protocol (ChatClientEvents and ChatServerEvents above), to
// pass to connect<ChatServerEvents, ChatClientEvents>(url) in the client.
//
// A declaration is a name and type parameters, nothing else: it has no
// state, so the same values serve every connection and every hub, and may
// be used from any goroutine. Client, Server and New panic on a name that
// can never be an event (empty, over 128 bytes, not printable UTF-8) or on
// an event declared twice, as regexp.MustCompile does: declarations are
// program text, and the mistake shows on the first run or test.
package protocol
