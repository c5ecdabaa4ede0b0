// Package testenv finds what tests need from outside the repository: the
// shared real-world data folder and the external tools tests compare with.
package testenv

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// InCI says whether the tests run under CI (CI=true), where missing data
// or tools are failures, not skips.
func InCI() bool { return os.Getenv("CI") == "true" }

// DataDir returns the shared data folder: $HEIR_DATA, or ../shared/data
// beside the repository root. Outside CI a test skips when it is absent;
// in CI it fails.
func DataDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("HEIR_DATA")
	if dir == "" {
		root, err := Root()
		if err != nil {
			t.Fatalf("find repository root: %v", err)
		}
		dir = filepath.Join(root, "..", "shared", "data")
	}
	if _, err := os.Stat(dir); err != nil {
		if InCI() {
			t.Fatalf("shared data folder %s missing (set HEIR_DATA): %v", dir, err)
		}
		t.Skipf("shared data folder %s missing (set HEIR_DATA to run this test): %v", dir, err)
	}
	return dir
}

// OptionalDataDir returns the shared data folder and whether it exists,
// for fuzz targets that add real seeds when they can.
func OptionalDataDir() (string, bool) {
	dir := os.Getenv("HEIR_DATA")
	if dir == "" {
		root, err := Root()
		if err != nil {
			return "", false
		}
		dir = filepath.Join(root, "..", "shared", "data")
	}
	_, err := os.Stat(dir)
	return dir, err == nil
}

// DataFile returns a path inside the shared data folder, skipping or
// failing like DataDir when it is absent.
func DataFile(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(DataDir(t), rel)
	if _, err := os.Stat(p); err != nil {
		if InCI() {
			t.Fatalf("shared data file %s missing: %v", p, err)
		}
		t.Skipf("shared data file %s missing: %v", p, err)
	}
	return p
}

// Tool returns the path of an external program, skipping (or failing in
// CI) when it is not installed.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if InCI() {
			t.Fatalf("%s not installed (.ci/run installs it): %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

// Root returns the repository root: the nearest directory upwards from the
// working directory that holds go.mod.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// JSONLines reads a file of one JSON value per line (the lab captures'
// ground truth), failing the test on any error.
func JSONLines[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s line %d: %v", path, len(out)+1, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}
