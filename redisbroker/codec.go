package redisbroker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/rushws/rushws/core"
)

// Wire format of a message on a channel, version 1:
//
//	byte 0       magic 0xB1 (format and version)
//	byte 1       flags: 1 binary payload, 2 everyone (All), 4 close command,
//	             8 kept (appended to histories; payload carries "pos")
//	uvarint      close code, only with flag 4
//	str          publishing hub ID
//	list         rooms
//	str          target connection ID ("" if none)
//	list         excluded connection IDs
//	list         excluded rooms
//	rest         payload, byte for byte
//
// A str is a uvarint length and the bytes; a list is a uvarint count and
// that many strs. The header is small, the payload is never re-encoded, and
// any byte string can be carried.
const (
	magic      = 0xB1
	flagBinary = 1
	flagAll    = 2
	flagClose  = 4
)

// errMalformed is the cause of every decode failure.
var errMalformed = errors.New("redisbroker: malformed message")

// encode appends m's wire form to dst.
func encode(dst []byte, m *core.BrokerMessage) []byte {
	var flags byte
	if m.Binary {
		flags |= flagBinary
	}
	if m.All {
		flags |= flagAll
	}
	if m.CloseCode != 0 {
		flags |= flagClose
	}
	dst = append(dst, magic, flags)
	if m.CloseCode != 0 {
		dst = binary.AppendUvarint(dst, uint64(m.CloseCode))
	}
	dst = appendStr(dst, m.Hub)
	dst = appendList(dst, m.Rooms)
	dst = appendStr(dst, m.Conn)
	dst = appendList(dst, m.Except)
	dst = appendList(dst, m.ExceptRooms)
	return append(dst, m.Data...)
}

// encodedSize returns an upper bound of len(encode(nil, m)).
func encodedSize(m *core.BrokerMessage) int {
	n := 2 + 4*binary.MaxVarintLen64 + len(m.Hub) + len(m.Conn) + len(m.Data)
	for _, l := range [][]string{m.Rooms, m.Except, m.ExceptRooms} {
		n += binary.MaxVarintLen64
		for _, s := range l {
			n += binary.MaxVarintLen64 + len(s)
		}
	}
	return n
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendList(dst []byte, l []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(l)))
	for _, s := range l {
		dst = appendStr(dst, s)
	}
	return dst
}

// decode parses a message. It never panics: lengths and counts are checked
// against what is left, and every field is validated as the hub would. The
// payload aliases b.
func decode(b []byte) (core.BrokerMessage, error) {
	var m core.BrokerMessage
	if len(b) < 2 || b[0] != magic {
		return m, fmt.Errorf("%w: unknown format", errMalformed)
	}
	flags := b[1]
	if flags&^(flagBinary|flagAll|flagClose|flagKept) != 0 {
		return m, fmt.Errorf("%w: unknown flags %#x", errMalformed, flags)
	}
	d := decoder{b: b[2:]}
	m.Binary = flags&flagBinary != 0
	m.All = flags&flagAll != 0
	if flags&flagClose != 0 {
		code := d.uvarint()
		if d.err == nil && (code < 1000 || code > 4999) {
			return m, fmt.Errorf("%w: close code %d out of range", errMalformed, code)
		}
		m.CloseCode = int(code)
	}
	m.Hub = d.str()
	m.Rooms = d.list()
	m.Conn = d.str()
	m.Except = d.list()
	m.ExceptRooms = d.list()
	if d.err != nil {
		return core.BrokerMessage{}, d.err
	}
	m.Data = d.b
	switch {
	case !validHubID(m.Hub):
		return core.BrokerMessage{}, fmt.Errorf("%w: bad hub ID", errMalformed)
	case m.Conn != "" && !validHubID(core.HubOf(m.Conn)):
		return core.BrokerMessage{}, fmt.Errorf("%w: bad connection ID", errMalformed)
	case !m.Binary && !utf8.Valid(m.Data):
		// A browser fails the whole connection on invalid UTF-8 text (or
		// close reason).
		return core.BrokerMessage{}, fmt.Errorf("%w: text payload is not valid UTF-8", errMalformed)
	}
	for _, l := range [][]string{m.Rooms, m.ExceptRooms} {
		for _, r := range l {
			if !core.ValidRoomName(r) {
				return core.BrokerMessage{}, fmt.Errorf("%w: bad room name", errMalformed)
			}
		}
	}
	return m, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad length", errMalformed)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: string longer than the message", errMalformed)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) list() []string {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	// Each entry takes at least one byte, its length.
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: list longer than the message", errMalformed)
		return nil
	}
	l := make([]string, 0, n)
	for range n {
		s := d.str()
		if d.err != nil {
			return nil
		}
		l = append(l, s)
	}
	return l
}
