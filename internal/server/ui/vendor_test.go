package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/testenv"
)

// The vendored bundle under static/vendor must be exactly what
// web/package-lock.json produces, so that nobody edits it by hand and a
// package upgrade goes through the lock file.

type vendorManifest struct {
	Packages map[string]struct {
		Version   string `json:"version"`
		Integrity string `json:"integrity"`
	} `json:"packages"`
	Files map[string]string `json:"files"`
}

type packageLock struct {
	Packages map[string]struct {
		Version   string `json:"version"`
		Integrity string `json:"integrity"`
		Dev       bool   `json:"dev"`
	} `json:"packages"`
}

// vendorDirs are the folders build.mjs writes, relative to the package.
var vendorDirs = []string{"static/vendor", "testdata/vendor"}

// vendoredFiles lists the files under the vendor folders of root, as
// slash paths relative to it (manifest.json excepted).
func vendoredFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, d := range vendorDirs {
		entries, err := os.ReadDir(filepath.Join(root, d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if name := d + "/" + e.Name(); name != "static/vendor/manifest.json" && !e.IsDir() {
				out = append(out, name)
			}
		}
	}
	return out
}

func webDir(t *testing.T) string {
	t.Helper()
	root, err := testenv.Root()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "web")
}

// TestVendorManifest checks, without npm, that the vendored files are
// those the manifest lists (no hand edit) and that the manifest names the
// versions and integrity hashes package-lock.json pins (no stale bundle
// after a lock change).
func TestVendorManifest(t *testing.T) {
	var m vendorManifest
	raw, err := os.ReadFile("static/vendor/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, name := range vendoredFiles(t, ".") {
		want, ok := m.Files[name]
		if !ok {
			t.Errorf("%s is not in the manifest: vendored files come from web/build.mjs only", name)
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s was changed after the build (sha256 %s, manifest %s): rebuild with go generate ./internal/server/ui", name, got, want)
		}
		delete(m.Files, name)
	}
	for name := range m.Files {
		t.Errorf("the manifest lists %s, which is not there", name)
	}
	// The embedded copy is the file on disk (go:embed reads it at build
	// time; this catches a stale test binary, not a real risk).
	if b, err := staticFS.ReadFile("static/vendor/echarts.js"); err != nil || len(b) == 0 {
		t.Errorf("static/vendor/echarts.js is not embedded: %v", err)
	}

	var lock packageLock
	lb, err := os.ReadFile(filepath.Join(webDir(t), "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(lb, &lock); err != nil {
		t.Fatal(err)
	}
	for name, p := range m.Packages {
		l, ok := lock.Packages["node_modules/"+name]
		if !ok {
			t.Errorf("manifest package %s is not in web/package-lock.json", name)
			continue
		}
		if l.Version != p.Version || l.Integrity != p.Integrity {
			t.Errorf("%s: bundle built from %s %s, package-lock.json pins %s %s: rebuild with go generate ./internal/server/ui", name, p.Version, p.Integrity, l.Version, l.Integrity)
		}
	}
	// package.json pins exact versions, so that the lock file is the
	// only source of a version and npm never resolves a range.
	var pj struct {
		Dev map[string]string `json:"devDependencies"`
		Dep map[string]string `json:"dependencies"`
	}
	pb, err := os.ReadFile(filepath.Join(webDir(t), "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(pb, &pj); err != nil {
		t.Fatal(err)
	}
	for name, v := range pj.Dev {
		if strings.ContainsAny(v, "^~<>*x |") {
			t.Errorf("web/package.json: %s %q is a range; pin an exact version", name, v)
		}
		if l := lock.Packages["node_modules/"+name]; l.Version != v {
			t.Errorf("web/package.json pins %s %s, package-lock.json has %s: run npm install in web/", name, v, l.Version)
		}
	}
	if len(pj.Dep) > 0 {
		t.Errorf("web/package.json has runtime dependencies %v; the UI's packages are bundled at build time (devDependencies)", pj.Dep)
	}
}

// TestVendorRebuild installs web/package-lock.json with npm ci in a
// scratch folder, runs build.mjs there and compares the result with the
// committed files byte for byte. It needs npm and the npm registry; it
// skips outside CI without them and under -short.
func TestVendorRebuild(t *testing.T) {
	if testing.Short() {
		t.Skip("the rebuild installs packages from the npm registry; -short skips it")
	}
	npm := testenv.Tool(t, "npm")
	node := testenv.Tool(t, "node")
	src := webDir(t)
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "build.mjs", "echarts.js"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		// A cache of our own: nothing of the developer's npm setup leaks
		// in, and the run leaves nothing behind.
		cmd.Env = append(os.Environ(), "npm_config_cache="+filepath.Join(dir, ".npm"), "npm_config_update_notifier=false")
		out, err := cmd.CombinedOutput()
		if err != nil {
			if !testenv.InCI() && strings.Contains(string(out), "ENOTFOUND") {
				t.Skipf("the npm registry is not reachable: %s", out)
			}
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	// npm retries fetches itself; one more try covers a registry hiccup.
	run(npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error", "--fetch-retries=4")
	out := filepath.Join(dir, "out")
	run(node, "build.mjs", "--out", out)
	built := append(vendoredFiles(t, out), "static/vendor/manifest.json")
	committed := append(vendoredFiles(t, "."), "static/vendor/manifest.json")
	if len(built) != len(committed) {
		t.Errorf("the build writes %v, the package holds %v", built, committed)
	}
	for _, name := range built {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("the build writes %s, which is not committed: run go generate ./internal/server/ui", name)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what web/package-lock.json builds (%d bytes built, %d committed): run go generate ./internal/server/ui and commit the result", name, len(got), len(want))
		}
	}
}
