package client_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rushws/rushws/client"
)

// packageJSON is the part of client/package.json these tests check.
type packageJSON struct {
	Name         string                          `json:"name"`
	Version      string                          `json:"version"`
	License      string                          `json:"license"`
	Type         string                          `json:"type"`
	Main         string                          `json:"main"`
	Types        string                          `json:"types"`
	SideEffects  *bool                           `json:"sideEffects"`
	Files        []string                        `json:"files"`
	Exports      map[string]json.RawMessage      `json:"exports"`
	Dependencies map[string]string               `json:"dependencies"`
	Peer         map[string]string               `json:"peerDependencies"`
	Optional     map[string]string               `json:"optionalDependencies"`
	Engines      map[string]string               `json:"engines"`
	Scripts      map[string]string               `json:"scripts"`
	Repository   struct{ URL, Directory string } `json:"repository"`
}

func readPackageJSON(t *testing.T) packageJSON {
	t.Helper()
	b, err := os.ReadFile("package.json")
	if err != nil {
		t.Fatalf("client/package.json: %v", err)
	}
	var p packageJSON
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("client/package.json: %v", err)
	}
	return p
}

// semver is the shape of an npm version, which is also the shape of a Go
// module version without its "v".
var semver = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// The npm package and the Go module carry one version: package.json says
// what PackageVersion says.
func TestPackageVersion(t *testing.T) {
	t.Parallel()
	p := readPackageJSON(t)
	if p.Version != client.PackageVersion {
		t.Errorf("client/package.json has version %q but client.PackageVersion is %q: set both to the release's version (the Go module tag without the v)", p.Version, client.PackageVersion)
	}
	if !semver.MatchString(client.PackageVersion) {
		t.Errorf("client.PackageVersion %q is not a semantic version such as 1.2.3 or 1.2.3-rc.1 (no leading v)", client.PackageVersion)
	}
}

// On a commit tagged for a release (vX.Y.Z), the tag names PackageVersion.
// On any other commit, or outside a git checkout of this repository (the
// module cache), there is no tag to compare with.
func TestPackageVersionMatchesReleaseTag(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Log("no git: no release tag to compare with")
		return
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Log("not in a git checkout: no release tag to compare with")
		return
	}
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	if same, _ := sameDir(filepath.Join(strings.TrimSpace(string(top)), "client"), here); !same {
		t.Logf("the git checkout at %s is not this repository: no release tag to compare with", strings.TrimSpace(string(top)))
		return
	}
	out, err := exec.Command("git", "tag", "--points-at", "HEAD", "--list", "v[0-9]*").Output()
	if err != nil {
		t.Fatalf("git tag --points-at HEAD: %v", err)
	}
	tags := strings.Fields(string(out))
	if len(tags) == 0 {
		t.Logf("HEAD has no release tag; client.PackageVersion is %s", client.PackageVersion)
		return
	}
	for _, tag := range tags {
		if tag != "v"+client.PackageVersion {
			t.Errorf("HEAD is tagged %s but client.PackageVersion and client/package.json say %s: a release tag must be v followed by the package version", tag, client.PackageVersion)
		}
	}
}

func sameDir(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// package.json ships exactly the files the Go package embeds (and the
// license), points every entry at them, and keeps the promises a bundler
// relies on: an ES module with types, no side effects, no dependencies.
func TestPackageJSON(t *testing.T) {
	t.Parallel()
	p := readPackageJSON(t)
	if p.Name != "@rushws/client" {
		t.Errorf("name = %q, want @rushws/client", p.Name)
	}
	if p.Type != "module" {
		t.Errorf(`type = %q, want "module": rushws.js is an ES module`, p.Type)
	}
	if p.Main != "./rushws.js" || p.Types != "./rushws.d.ts" {
		t.Errorf("main, types = %q, %q; want ./rushws.js, ./rushws.d.ts", p.Main, p.Types)
	}
	if p.SideEffects == nil || *p.SideEffects {
		t.Error("sideEffects must be false: rushws.js does nothing when imported, so bundlers may drop what is unused")
	}
	if want := []string{"rushws.js", "rushws.d.ts", "LICENSE"}; !slices.Equal(p.Files, want) {
		t.Errorf("files = %q, want %q", p.Files, want)
	}
	if len(p.Dependencies)+len(p.Peer)+len(p.Optional) != 0 {
		t.Errorf("the package has dependencies (%v %v %v); rushws.js has none", p.Dependencies, p.Peer, p.Optional)
	}
	if len(p.Scripts) != 0 {
		t.Errorf("scripts = %v: the package needs no build and must run nothing on install", p.Scripts)
	}
	if p.Engines["node"] == "" {
		t.Error("engines.node is not set")
	}
	if p.Repository.URL != "git+https://github.com/rushws/rushws.git" || p.Repository.Directory != "client" {
		t.Errorf("repository = %+v, want the rushws repository, directory client", p.Repository)
	}

	var root struct{ Types, Import, Default string }
	if err := json.Unmarshal(p.Exports["."], &root); err != nil {
		t.Fatalf(`exports["."]: %v`, err)
	}
	if root != (struct{ Types, Import, Default string }{"./rushws.d.ts", "./rushws.js", "./rushws.js"}) {
		t.Errorf(`exports["."] = %+v, want types ./rushws.d.ts, import and default ./rushws.js`, root)
	}
	// "types" must come first: TypeScript takes the first condition it knows.
	if i, j := bytes.Index(p.Exports["."], []byte(`"types"`)), bytes.Index(p.Exports["."], []byte(`"import"`)); i < 0 || i > j {
		t.Errorf(`exports["."] must list "types" before "import": %s`, p.Exports["."])
	}
	if string(p.Exports["./package.json"]) != `"./package.json"` {
		t.Errorf(`exports["./package.json"] = %s, want "./package.json"`, p.Exports["./package.json"])
	}
	if len(p.Exports) != 2 {
		t.Errorf("exports has %d entries, want 2 (\".\" and \"./package.json\")", len(p.Exports))
	}
	if p.License != "MIT" {
		t.Errorf("license = %q, want MIT, the repository's", p.License)
	}
}

// The package's LICENSE is the repository's (npm cannot ship a file from
// outside the package's folder, so client/ holds a copy).
func TestPackageLicense(t *testing.T) {
	t.Parallel()
	mine, err := os.ReadFile("LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	repo, err := os.ReadFile(filepath.Join("..", "LICENSE"))
	if errors.Is(err, os.ErrNotExist) {
		t.Log("no ../LICENSE to compare with")
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mine, repo) {
		t.Error("client/LICENSE differs from the repository's LICENSE: copy it again (cp LICENSE client/LICENSE)")
	}
	if !bytes.HasPrefix(mine, []byte("MIT License")) {
		t.Error(`LICENSE does not start with "MIT License", but package.json says MIT`)
	}
}

// The Go package embeds rushws.js and rushws.d.ts, nothing else, and
// serves them as they are on disk: the files npm ships.
func TestEmbedsThePackagedFiles(t *testing.T) {
	t.Parallel()
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"rushws.d.ts", "rushws.js"}; !slices.Equal(pkg.EmbedPatterns, want) {
		t.Errorf("the package embeds %q, want %q", pkg.EmbedPatterns, want)
	}
	for _, f := range []struct {
		name     string
		embedded []byte
	}{{"rushws.js", client.Script()}, {"rushws.d.ts", client.Types()}} {
		disk, err := os.ReadFile(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(disk, f.embedded) {
			t.Errorf("the embedded %s differs from the file on disk", f.name)
		}
	}
}
