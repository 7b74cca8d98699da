package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rushws/rushws/core"
)

// guestIDRunes is how much of a connection ID's own part a guest name shows:
// 6 base64url characters, 36 random bits, so that two guests in a room
// practically never share a name.
const guestIDRunes = 6

// displayName returns the trimmed name the client asked for when it is 1 to
// 32 printable runes, and otherwise "guest-" and the start of the part of the
// connection ID that is the connection's own. A connection ID is the hub's ID,
// a dot and random bits (see core.HubOf): its first characters are the same
// for every connection of a hub, so they cannot tell guests apart. The name is
// shown to other users as text, never as HTML.
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
	own := connID
	if hub := core.HubOf(connID); hub != "" {
		own = connID[len(hub)+1:]
	}
	return "guest-" + own[:min(guestIDRunes, len(own))]
}
