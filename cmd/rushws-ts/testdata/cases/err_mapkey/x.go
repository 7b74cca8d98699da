package x

import "github.com/rushws/rushws/protocol"

type Key struct{ A, B int }

var P = protocol.New("x", protocol.Client[int, map[Key]string]("m"))
