package x

import "github.com/rushws/rushws/protocol"

type Bad struct {
	OK    int
	Inner struct {
		Feed chan int
	}
}

var P = protocol.New("x", protocol.Server[Bad]("bad"))
