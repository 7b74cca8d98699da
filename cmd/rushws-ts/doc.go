// Command rushws-ts writes the TypeScript declarations of the rushws
// protocols declared in Go packages with package protocol, for the JS
// client's typed event maps, so that the Go structs and the browser's types
// cannot drift apart. Run it with go run from a go:generate line in the
// package that declares the protocol:
//
//	//go:generate go run github.com/rushws/rushws/cmd/rushws-ts -o web/src/protocol.d.ts .
//
// or by hand, and with -check in CI, which writes nothing and fails when the
// file is out of date:
//
//	go run github.com/rushws/rushws/cmd/rushws-ts -o web/src/protocol.d.ts ./chat
//	go run github.com/rushws/rushws/cmd/rushws-ts -check -o web/src/protocol.d.ts ./chat
//
// It reads the packages' source with go/types (golang.org/x/tools/go/packages)
// rather than importing them, so it sees what reflection cannot: the
// constants of a named string type, which become a union of string
// literals, and the doc comments, which become JSDoc. It finds every
// package-level variable of type *protocol.Protocol initialised with
// protocol.New, and writes, for a protocol named "chat":
//
//   - an interface per Go struct and a type per other named type that the
//     events' data and replies reach, named as in Go (prefixed with the
//     package's name when two packages share a name or TypeScript owns it);
//   - ChatClientEvents, the events the client sends: event(data: Data): Reply;
//   - ChatServerEvents, the events the server sends: event(data: Data): void.
//
// Types are written as encoding/json encodes them: json tag names, "-"
// fields left out, omitempty and omitzero fields optional (and never null:
// a nil value is left out), the string option as a string, embedded structs'
// fields promoted with encoding/json's rules for conflicts (a field promoted
// through a nil embedded pointer is left out, so it is optional), pointers,
// slices and maps nullable, []byte as a base64 string, map keys as strings,
// time.Time as a string, json.RawMessage and MarshalJSON types as unknown,
// TextMarshalers as strings, interfaces as unknown, every number as number.
// Types encoding/json cannot encode (channels, functions, complex numbers)
// are errors naming the field. The data of client events is what the server
// decodes into a variable, so the pointer-receiver methods of its type
// count; see docs/typescript.md for the whole table.
package main
