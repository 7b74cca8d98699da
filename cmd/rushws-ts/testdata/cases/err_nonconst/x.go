package x

import (
	"os"

	"github.com/rushws/rushws/protocol"
)

var P = protocol.New("x", protocol.Server[int](os.Getenv("EVENT")))
