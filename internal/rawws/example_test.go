package rawws_test

import (
	"fmt"

	"github.com/rushws/rushws/internal/rawws"
)

// A frame with RSV1 set and an unknown opcode, as no library would send it.
func ExampleFrame_Bytes() {
	b := rawws.Frame{Fin: true, Rsv: 4, Op: 3, Payload: []byte("x"), Unmasked: true}.Bytes()
	fmt.Printf("% x\n", b)
	// Output: c3 01 78
}

// A message split into fragments of two bytes.
func ExampleFragments() {
	for _, f := range rawws.Fragments(rawws.OpText, []byte("hello"), 2) {
		fmt.Println(f.Fin, f.Op, string(f.Payload))
	}
	// Output:
	// false 1 he
	// false 0 ll
	// true 0 o
}
