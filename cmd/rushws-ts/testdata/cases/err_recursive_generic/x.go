package x

import "github.com/rushws/rushws/protocol"

type List[T any] struct {
	Head T
	Tail *List[T]
}

var P = protocol.New("x", protocol.Server[List[int]]("l"))
