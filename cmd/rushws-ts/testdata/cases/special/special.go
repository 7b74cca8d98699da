// Package special: types with encodings of their own.
package special

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/rushws/rushws/protocol"
)

// Money marshals itself (value receiver): its JSON is its own business.
type Money struct{ cents int64 }

func (m Money) MarshalJSON() ([]byte, error) { return json.Marshal(m.cents) }

// Level is a TextMarshaler: a string.
type Level int

func (l Level) MarshalText() ([]byte, error) { return []byte("info"), nil }

// Lazy marshals itself only through a pointer: a value held by value uses
// the default encoding, one reached through a pointer uses MarshalJSON.
type Lazy struct {
	N int `json:"n"`
}

func (l *Lazy) MarshalJSON() ([]byte, error) { return []byte(`"lazy"`), nil }

// Wrapper embeds Money: the promoted MarshalJSON encodes all of Wrapper.
type Wrapper struct {
	Money
	Note string
}

// Special holds each special type.
type Special struct {
	At       time.Time
	AtPtr    *time.Time
	OptAt    time.Time `json:",omitzero"`
	Raw      json.RawMessage
	Num      json.Number
	Money    Money
	MoneyPtr *Money
	Level    Level
	Addr     netip.Addr
	Lazy     Lazy   // by value here (not addressable): default encoding
	LazyPtr  *Lazy  // through a pointer: MarshalJSON
	LazyList []Lazy // slice elements are addressable: MarshalJSON
	Wrapper  Wrapper
}

var P = protocol.New("special",
	protocol.Server[Special]("special"),
	protocol.Server[Lazy]("lazy"),         // by value: default encoding
	protocol.Client[Lazy, Lazy]("decode"), // decoded into a variable: the data type's pointer methods apply
)
