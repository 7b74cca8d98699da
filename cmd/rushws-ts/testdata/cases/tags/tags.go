// Package tags: json tags and their options.
package tags

import "github.com/rushws/rushws/protocol"

// Inner is a struct field's type.
type Inner struct {
	A int `json:"a"`
}

// Tagged uses every tag form encoding/json knows.
type Tagged struct {
	Renamed    string         `json:"renamed"`
	Skipped    string         `json:"-"`
	Dash       string         `json:"-,"` // the key is "-"
	Kept       string         `json:",omitempty"`
	unexp      string         //nolint:unused // never encoded
	OptStr     string         `json:"opt_str,omitempty"`
	OptInt     int            `json:"opt_int,omitempty"`
	OptBool    bool           `json:"opt_bool,omitempty"`
	OptPtr     *int           `json:"opt_ptr,omitempty"`   // nil is left out: never null
	OptSlice   []int          `json:"opt_slice,omitempty"` // nil and [] are left out
	OptMap     map[string]int `json:"opt_map,omitempty"`
	OptStruct  Inner          `json:"opt_struct,omitempty"` // structs are never empty: always there
	OptArr0    [0]int         `json:"opt_arr0,omitempty"`
	OptArr2    [2]int         `json:"opt_arr2,omitempty"` // never empty
	ZeroStruct Inner          `json:"zero_struct,omitzero"`
	ZeroPtr    *Inner         `json:"zero_ptr,omitzero"`
	IntStr     int            `json:"int_str,string"`
	BoolStr    bool           `json:"bool_str,string"`
	FloatStr   float64        `json:"float_str,string"`
	PtrStr     *int           `json:"ptr_str,string"`
	OptIntStr  int            `json:"opt_int_str,omitempty,string"`
	StructStr  Inner          `json:"struct_str,string"` // ignored on a struct
	Bad        int            `json:"bad\"name"`         // an invalid name: the Go name is used
	Spaced     int            `json:"with space"`
	Hyphen     int            `json:"kebab-case"`
	Unicode    int            `json:"naïve"`
}

var _ = Tagged{}.unexp

var P = protocol.New("tags", protocol.Server[Tagged]("tagged"))
