package x

import "github.com/rushws/rushws/protocol"

func build() *protocol.Protocol { return protocol.New("x") }

var P = build()
