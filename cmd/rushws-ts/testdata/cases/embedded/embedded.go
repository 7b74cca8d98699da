// Package embedded: embedded structs, promoted fields and conflicts, as
// encoding/json resolves them.
package embedded

import "github.com/rushws/rushws/protocol"

// Base is embedded: its fields are promoted.
type Base struct {
	ID      string `json:"id"`
	Created int    `json:"created"`
}

// Meta is embedded through a pointer: its fields are promoted too.
type Meta struct {
	Version int `json:"version"`
}

// Named is embedded with a tag: it is a field of that name.
type Named struct {
	X int `json:"x"`
}

// hidden is unexported and embedded: its exported fields are promoted.
type hidden struct {
	Secret string `json:"secret"`
	Public string
}

// Label is a named non-struct type embedded: a field named Label.
type Label string

// L1a and L1b both have Name at the same depth, untagged: both dropped.
type L1a struct{ Name string }
type L1b struct{ Name string }

// Deep holds a struct field (not embedded): a field named Inner.
type Deep struct {
	Inner struct {
		ID string `json:"id"`
	}
}
type DeepWrap struct{ Deep }

// TagA tags its T "T"; TagB's T is untagged at the same depth: the tagged one wins.
type TagA struct {
	T int `json:"T"`
}
type TagB struct{ T int }

// Shallow overrides the embedded Base's id with its own.
type Shallow struct {
	Base
	ID int `json:"id"`
}

// Doc uses every embedding rule.
type Doc struct {
	Base
	*Meta
	Named `json:"named"`
	hidden
	Label
	L1a
	L1b
	DeepWrap
	TagA
	TagB
	Title string `json:"title"`
}

var P = protocol.New("embedded",
	protocol.Server[Doc]("doc"),
	protocol.Server[Shallow]("shallow"),
)
