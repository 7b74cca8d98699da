// Package basic: numbers, booleans, strings and values of any type.
package basic

import (
	"time"

	"github.com/rushws/rushws/protocol"
)

// Scalars holds one field of each basic kind.
type Scalars struct {
	I     int
	I8    int8
	I64   int64
	U     uint
	U8    uint8
	U64   uint64
	F32   float32
	F64   float64
	B     bool
	S     string
	R     rune
	D     time.Duration // nanoseconds, a number
	Any   any
	Err   error
	Iface interface{ M() }
	Bare  struct {
		X int
	}
	Empty struct{}
}

// Celsius is a named number.
type Celsius float64

var P = protocol.New("basic",
	protocol.Server[Scalars]("scalars"),
	protocol.Server[Celsius]("celsius"),
	protocol.Server[string]("text"),
	protocol.Server[any]("anything"),
)
