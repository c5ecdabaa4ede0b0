package feeds

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/heir-emd/heir/internal/testenv"
)

// server serves files from a map that tests change between updates.
type server struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (s *server) set(path string, b []byte) { s.mu.Lock(); s.files[path] = b; s.mu.Unlock() }

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, ok := s.files[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.URL.Path == "/truncate" {
		// Announce more than is sent: a connection cut mid-download.
		w.Header().Set("Content-Length", fmt.Sprint(len(b)+100))
	}
	w.Write(b)
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestUpdate(t *testing.T) {
	dataDir := testenv.DataDir(t)
	kevData, err := os.ReadFile(filepath.Join(dataDir, "kev", "known_exploited_vulnerabilities.json"))
	if err != nil {
		t.Fatal(err)
	}
	eolData, err := os.ReadFile(filepath.Join(dataDir, "eol", "windows.md"))
	if err != nil {
		t.Fatal(err)
	}
	nvdJSON := []byte(`{"format":"NVD_CVE","version":"2.0","totalResults":0,"vulnerabilities":[]}`)
	srv := &server{files: map[string][]byte{
		"/kev.json":        kevData,
		"/kev.json.sha256": []byte(sum(kevData) + "  kev.json\n"),
		"/windows.md":      eolData,
		"/nvd.json.gz":     gz(t, nvdJSON),
		"/nvd.meta":        []byte(fmt.Sprintf("lastModifiedDate:2025-08-25T00:00:00-04:00\r\nsize:%d\r\nsha256:%s\r\n", len(nvdJSON), strings.ToUpper(sum(nvdJSON)))),
	}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	dir := t.TempDir()
	validated := map[string]int{}
	u := &Updater{Dir: dir, Client: hs.Client(), Validate: func(kind, path string) error {
		validated[kind]++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if kind == "kev" && !bytes.Contains(b, []byte(`"catalogVersion"`)) {
			return errors.New("not a KEV catalogue")
		}
		return nil
	}}
	feeds := []Feed{
		{Name: "kev", Kind: "kev", URL: hs.URL + "/kev.json", SHA256URL: hs.URL + "/kev.json.sha256", File: "kev/kev.json", MinSize: 100 << 10},
		{Name: "eol-windows", Kind: "eol", URL: hs.URL + "/windows.md", File: "eol/windows.md"},
		{Name: "nvd-x", Kind: "nvd", URL: hs.URL + "/nvd.json.gz", NVDMetaURL: hs.URL + "/nvd.meta", File: "nvd/x.json.gz"},
	}
	ctx := context.Background()
	res, err := u.Update(ctx, feeds)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != Updated {
			t.Errorf("first update %s: %+v", r.Feed, r)
		}
	}
	if !strings.Contains(res[0].Verified, "sha256") || !strings.Contains(res[2].Verified, "nvd meta") || validated["kev"] != 1 {
		t.Errorf("verification: %+v / %+v / %v", res[0], res[2], validated)
	}
	// Same content again: unchanged.
	res, _ = u.Update(ctx, feeds)
	for _, r := range res {
		if r.Status != Unchanged {
			t.Errorf("second update %s: %+v", r.Feed, r)
		}
	}
	kevPath := filepath.Join(dir, "kev", "kev.json")
	check := func(what string) {
		t.Helper()
		b, err := os.ReadFile(kevPath)
		if err != nil || !bytes.Equal(b, kevData) {
			t.Errorf("%s: previous KEV catalogue not kept (err %v)", what, err)
		}
		left, _ := filepath.Glob(filepath.Join(dir, "kev", ".*part"))
		if len(left) != 0 {
			t.Errorf("%s: temporary files left: %v", what, left)
		}
	}
	// A corrupted download: the published digest no longer matches.
	bad := append(bytes.Clone(kevData[:len(kevData)-10]), []byte("garbage!!!")...)
	srv.set("/kev.json", bad)
	res, _ = u.Update(ctx, feeds[:1])
	if res[0].Status != Failed || !strings.Contains(res[0].Err, "sha256 mismatch") {
		t.Errorf("corrupted: %+v", res[0])
	}
	check("corrupted download")
	// An error page with 200 and a matching digest: too small.
	page := []byte("<html>maintenance</html>")
	srv.set("/kev.json", page)
	srv.set("/kev.json.sha256", []byte(sum(page)))
	res, _ = u.Update(ctx, feeds[:1])
	if res[0].Status != Failed || !strings.Contains(res[0].Err, "fewer than") {
		t.Errorf("error page: %+v", res[0])
	}
	check("error page")
	// A server error.
	srv.mu.Lock()
	delete(srv.files, "/kev.json")
	srv.mu.Unlock()
	res, _ = u.Update(ctx, feeds[:1])
	if res[0].Status != Failed || !strings.Contains(res[0].Err, "404") {
		t.Errorf("404: %+v", res[0])
	}
	check("404")
	// A download cut short.
	srv.set("/truncate", kevData[:len(kevData)/2])
	res, _ = u.Update(ctx, []Feed{{Name: "kev", Kind: "kev", URL: hs.URL + "/truncate", File: "kev/kev.json"}})
	if res[0].Status != Failed {
		t.Errorf("truncated: %+v", res[0])
	}
	check("truncated download")
	// NVD: a meta file that disagrees, and a broken gzip.
	srv.set("/nvd.meta", []byte("size:1\nsha256:"+strings.Repeat("A", 64)+"\n"))
	srv.set("/nvd.json.gz", gz(t, []byte(`{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{}]}`)))
	res, _ = u.Update(ctx, feeds[2:])
	if res[0].Status != Failed || !strings.Contains(res[0].Err, ".meta") {
		t.Errorf("nvd meta mismatch: %+v", res[0])
	}
	srv.set("/nvd.json.gz", gz(t, nvdJSON)[:20])
	res, _ = u.Update(ctx, feeds[2:])
	if res[0].Status != Failed || !strings.Contains(res[0].Err, "gzip") {
		t.Errorf("broken gzip: %+v", res[0])
	}
	// Paths outside the folder are refused.
	res, _ = u.Update(ctx, []Feed{{Name: "evil", URL: hs.URL + "/windows.md", File: "../x"}})
	if res[0].Status != Failed {
		t.Errorf("path escape: %+v", res[0])
	}
}

func TestDefaultFeeds(t *testing.T) {
	fs := DefaultFeeds([]int{2024})
	names := map[string]Feed{}
	for _, f := range fs {
		names[f.Name] = f
	}
	if names["nvd-2024"].URL != "https://nvd.nist.gov/feeds/json/cve/2.0/nvdcve-2.0-2024.json.gz" || names["nvd-2024"].NVDMetaURL != "https://nvd.nist.gov/feeds/json/cve/2.0/nvdcve-2.0-2024.meta" {
		t.Errorf("nvd feed %+v", names["nvd-2024"])
	}
	if names["kev"].URL != KEVURL || names["eol-windows"].File != "eol/windows.md" {
		t.Errorf("feeds %+v", fs)
	}
}
