// Package enums: named string types with constants become unions.
package enums

import "github.com/rushws/rushws/protocol"

// Color is a string enum.
type Color string

// The colors.
const (
	Red     Color = "red"
	Green   Color = "green"
	Blue    Color = "blue"
	Crimson       = Red // the same value twice: one member
)

// Quote shows escaping in a member.
type Quote string

const Quoted Quote = "say \"hi\"\n"

// Free is a named string with no constants: any string.
type Free string

// Priority is a named int with constants: numbers stay number.
type Priority int

const (
	Low Priority = iota
	High
)

// Paint uses the enums.
type Paint struct {
	Color    Color
	Optional Color `json:",omitempty"`
	Colors   []Color
	ByColor  map[Color]int // keys from the union, each optional
	Free     Free
	Quote    Quote
	Priority Priority
}

var P = protocol.New("enums", protocol.Server[Paint]("paint"))
