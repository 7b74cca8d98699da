package origincheck_test

import (
	"fmt"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/internal/origincheck"
)

// Importing core installs Mark; origin middleware calls it on the
// connection before next.
func Example() {
	_ = core.CloseNormal // core is linked in, so Mark is set
	fmt.Println(origincheck.Mark != nil)
	// Output:
	// true
}
