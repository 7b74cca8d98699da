package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// displayName returns the trimmed name the client asked for when it is 1 to
// 32 printable runes, and otherwise "guest-" and the start of the connection
// ID. The name is shown to other users as text, never as HTML.
func displayName(requested, connID string) string {
	name := strings.TrimSpace(requested)
	n := utf8.RuneCountInString(name)
	ok := utf8.ValidString(name) && n >= 1 && n <= MaxNameRunes
	for _, r := range name {
		if !unicode.IsPrint(r) {
			ok = false
		}
	}
	if ok {
		return name
	}
	return "guest-" + connID[:min(4, len(connID))]
}
