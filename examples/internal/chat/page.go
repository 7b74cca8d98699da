package chat

import (
	_ "embed"
	"html"
	"strings"
)

// indexHTML is the page with "{{framework}}" where the framework's name goes.
//
//go:embed index.html
var indexHTML string

// Page returns the chat page (index.html, embedded) with framework, such as
// "Echo" or "Gin", in its title and heading, so that an app can serve it as
// is at "/". The name is HTML-escaped. The page dials /ws/{room}?name=... on
// its own origin and shows every name and text it receives as text, never as
// HTML.
func Page(framework string) []byte {
	return []byte(strings.ReplaceAll(indexHTML, "{{framework}}", html.EscapeString(framework)))
}
