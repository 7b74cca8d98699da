package chat

import (
	_ "embed"
	"html"
	"strings"

	"github.com/rushws/rushws/client"
)

// indexHTML is the page with "{{framework}}" where the framework's name goes
// and "{{version}}" where the JS client's version goes.
//
//go:embed index.html
var indexHTML string

// ClientPath is where the page imports the JS client from: an app serves
// client.Handler() there.
const ClientPath = "/rushws.js"

// Page returns the chat page (index.html, embedded) with framework, such as
// "Echo" or "Gin", in its title and heading, so that an app can serve it as
// is at "/". The name is HTML-escaped. The page imports the JS client from
// [ClientPath] + "?v=" + client.Version() (a URL browsers may cache for a
// year), so the app must serve client.Handler() at [ClientPath]. It
// connects to /ws/{room}?name=... on its own origin as soon as it loads,
// reconnects by itself, keeps what is sent while disconnected until the
// connection is back, and shows every name and text it receives as text,
// never as HTML.
func Page(framework string) []byte {
	return []byte(strings.NewReplacer(
		"{{framework}}", html.EscapeString(framework),
		"{{version}}", client.Version(),
	).Replace(indexHTML))
}
