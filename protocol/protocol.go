package protocol

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Protocol gathers the events of one app protocol. cmd/rushws-ts finds
// every package-level variable of type *Protocol initialised with New and
// writes its TypeScript event maps, named after the protocol: for "chat",
// ChatClientEvents (what the client emits) and ChatServerEvents (what the
// server emits). A Protocol is immutable and safe for use from any
// goroutine.
type Protocol struct {
	name   string
	events []Event
}

// New gathers events into a protocol called name, which names the
// generated TypeScript maps and must therefore be a letter followed by
// letters, digits and underscores. It panics on an invalid name or when an
// event name is declared twice in the same direction (a client event and a
// server event may share a name: "chat" up and "chat" down).
//
// For the generator to read it, New's arguments must be the event
// variables of the same package or calls of Client and Server, and every
// name a constant.
func New(name string, events ...Event) *Protocol {
	if !validIdent(name) {
		panic(fmt.Sprintf("protocol: invalid protocol name %s: use a letter followed by letters, digits and underscores", quote(name)))
	}
	seen := map[[2]string]bool{}
	for _, e := range events {
		if e == nil {
			panic(fmt.Sprintf("protocol: New(%q): nil event", name))
		}
		dir := "server"
		if e.FromClient() {
			dir = "client"
		}
		k := [2]string{dir, e.Name()}
		if seen[k] {
			panic(fmt.Sprintf("protocol: New(%q): %s event %q declared twice", name, dir, e.Name()))
		}
		seen[k] = true
	}
	return &Protocol{name: name, events: append([]Event(nil), events...)}
}

// Name is the protocol's name.
func (p *Protocol) Name() string { return p.name }

// Events returns the protocol's events in the order given to New.
func (p *Protocol) Events() []Event { return append([]Event(nil), p.events...) }

func validIdent(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		if r == utf8.RuneError || !(unicode.IsLetter(r) || r == '_' || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}
