package pathparam_test

import (
	"fmt"
	"net/url"

	"github.com/rushws/rushws/internal/pathparam"
)

// A room named "a/b" arrives escaped in the path; Echo hands out the raw
// segment, and Unescape decodes it once.
func ExampleUnescape() {
	u, _ := url.Parse("/ws/a%2Fb")
	fmt.Println(pathparam.Unescape(u.RawPath, "a%2Fb"))
	fmt.Println(pathparam.Unescape(u.RawPath, "a/b"))
	// Output:
	// a/b
	// a/b
}
