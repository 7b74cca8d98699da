package x

import "github.com/rushws/rushws/protocol"

type Handler struct {
	Call func() `json:"call"`
	Skip func() `json:"-"` // fine: left out
}

var P = protocol.New("x", protocol.Client[Handler, int]("h"))
