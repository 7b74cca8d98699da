// Package recursive: self-referring types and generic instances.
package recursive

import "github.com/rushws/rushws/protocol"

// Tree refers to itself through a slice.
type Tree struct {
	Name     string `json:"name"`
	Children []Tree `json:"children"`
}

// Node refers to itself through a pointer.
type Node struct {
	Value int   `json:"value"`
	Next  *Node `json:"next"`
}

// Page is generic: each instance is written out in place.
type Page[T any] struct {
	Items []T  `json:"items"`
	More  bool `json:"more"`
}

// Result uses instances of Page.
type Result struct {
	Trees Page[Tree]   `json:"trees"`
	Names Page[string] `json:"names"`
}

var P = protocol.New("recursive",
	protocol.Server[Tree]("tree"),
	protocol.Server[Node]("list"),
	protocol.Server[Result]("result"),
	protocol.Server[Page[int]]("page"),
)
