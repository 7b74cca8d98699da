package core_test

import (
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rushws/rushws/core"
)

// exportedStrings returns the exported string constants of the package in
// dir whose names start with prefix, name to value.
func exportedStrings(t *testing.T, dir, prefix string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, prefix) || !n.IsExported() || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						out[n.Name] = constant.StringVal(constant.MakeFromLiteral(lit.Value, lit.Kind, 0))
					}
				}
			}
		}
	}
	return out
}

// TestVocabulary checks that the exported lists of rejection reasons and
// close classes hold every constant declared for them, and that no
// refusal in core or package middleware uses a reason spelled as a loose
// string: a new reason must be a constant, and then a label in package
// metrics.
func TestVocabulary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prefix string
		list   []string
	}{
		{"Reject", core.RejectReasons()},
		{"CloseClass", core.CloseClasses()},
	} {
		consts := exportedStrings(t, ".", tc.prefix)
		var want []string
		for _, v := range consts {
			want = append(want, v)
		}
		got := slices.Clone(tc.list)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s constants %v, but the exported list holds %v", tc.prefix, want, got)
		}
	}
	loose := regexp.MustCompile(`HTTPError\{[^}]*Reason:\s*"`)
	for _, dir := range []string{".", "../middleware"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if m := loose.Find(b); m != nil {
				t.Errorf("%s: a refusal's Reason is a loose string (%s): use a Reject constant", f, m)
			}
		}
	}
	for status, want := range map[int]string{400: core.RejectBadHandshake, 401: core.RejectUnauthorized, 403: core.RejectForbidden,
		405: core.RejectMethod, 429: core.RejectRateLimited, 503: core.RejectUnavailable, 418: "status_418"} {
		if got := core.RejectReasonFor(status); got != want {
			t.Errorf("RejectReasonFor(%d) = %q, want %q", status, got, want)
		}
	}
}

func TestCloseCodeForStatus(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]int{401: core.CloseUnauthorized, 403: core.CloseForbidden, 429: core.CloseRateLimited,
		400: core.ClosePolicyViolation, 500: core.ClosePolicyViolation, 503: core.ClosePolicyViolation} {
		if got := core.CloseCodeForStatus(status); got != want {
			t.Errorf("CloseCodeForStatus(%d) = %d, want %d", status, got, want)
		}
	}
}
