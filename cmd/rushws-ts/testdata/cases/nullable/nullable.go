// Package nullable: pointers, slices, maps and arrays, and where null
// comes from.
package nullable

import (
	"net/netip"

	"github.com/rushws/rushws/protocol"
)

// Point is referred to through pointers and containers.
type Point struct {
	X, Y float64
}

// Tags is a named slice: nil encodes as null.
type Tags []string

// Blob is a named byte slice: base64 like []byte.
type Blob []byte

// Grid is a fixed-size array.
type Grid [3][3]int

// Holder holds every nullable shape.
type Holder struct {
	Ptr      *Point
	PtrPtr   **Point
	PtrInt   *int
	Slice    []Point
	PtrSlice []*Point
	Bytes    []byte // base64
	Blob     Blob
	Tags     Tags
	OptTags  Tags `json:",omitempty"`
	Arr      [2]string
	ByteArr  [4]byte // an array of numbers, not base64
	Grid     Grid
	Map      map[string]Point
	IntKeys  map[int64]string   // keys as decimal strings
	AddrKeys map[netip.Addr]int // TextMarshaler keys
	Nested   map[string][]*int
	Matrix   [][]float64
}

var P = protocol.New("nullable",
	protocol.Server[Holder]("holder"),
	protocol.Server[*Point]("maybe_point"),
	protocol.Server[[]Point]("points"),
)
