// Package feeds downloads the knowledge base's feeds (CISA KEV, FIRST
// EPSS, NVD CVE 2.0 yearly files, endoflife.date products, CSAF
// advisories) from their official URLs into a folder, verifying what each
// publisher lets us verify, and keeps the previous copy whenever a
// download is broken: a new file replaces the old one only after it has
// been fully received, checked and parsed, by an atomic rename in the same
// folder. It is what `heir feeds update` runs; `heir import` then reads
// the folder.
package feeds

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/vuln/nvd"
)

// Feed is one file to keep up to date.
type Feed struct {
	Name string `yaml:"name" json:"name"` // for reports: kev, epss, nvd-2024, eol-windows …
	Kind string `yaml:"kind" json:"kind"` // the importer kind the file is for
	URL  string `yaml:"url" json:"url"`
	File string `yaml:"file" json:"file"` // name in the folder
	// SHA256URL and SHA512URL point at a digest file published beside the
	// feed (CSAF providers' .sha256/.sha512: "<hex>  <name>").
	SHA256URL string `yaml:"sha256_url,omitempty" json:"sha256_url,omitempty"`
	SHA512URL string `yaml:"sha512_url,omitempty" json:"sha512_url,omitempty"`
	// NVDMetaURL is an NVD .meta file: sha256 and size of the
	// uncompressed JSON.
	NVDMetaURL string `yaml:"nvd_meta_url,omitempty" json:"nvd_meta_url,omitempty"`
	// MinSize refuses a download smaller than this (a truncated KEV
	// catalogue or an error page served with 200).
	MinSize int64 `yaml:"min_size,omitempty" json:"min_size,omitempty"`
}

// Official locations, overridable in the configuration.
const (
	KEVURL  = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
	EPSSURL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
	NVDBase = "https://nvd.nist.gov/feeds/json/cve/2.0/"
	EOLBase = "https://raw.githubusercontent.com/endoflife-date/endoflife.date/master/products/"
)

// DefaultFeeds lists KEV, EPSS, the NVD yearly files of the given years,
// and the endoflife.date products heir's end-of-life checks use.
func DefaultFeeds(nvdYears []int) []Feed {
	fs := []Feed{
		{Name: "kev", Kind: "kev", URL: KEVURL, File: "kev/known_exploited_vulnerabilities.json", MinSize: 100 << 10},
		{Name: "epss", Kind: "epss", URL: EPSSURL, File: "epss/epss_scores-current.csv.gz", MinSize: 100 << 10},
	}
	for _, y := range nvdYears {
		name := fmt.Sprintf("nvdcve-2.0-%d", y)
		fs = append(fs, Feed{Name: fmt.Sprintf("nvd-%d", y), Kind: "nvd", URL: NVDBase + name + ".json.gz", NVDMetaURL: NVDBase + name + ".meta", File: "nvd/" + name + ".json.gz"})
	}
	for _, p := range []string{"windows", "windows-server", "windows-embedded", "rhel", "debian", "ubuntu", "android", "ios", "macos", "linux-kernel", "openssl", "dotnetfx"} {
		fs = append(fs, Feed{Name: "eol-" + p, Kind: "eol", URL: EOLBase + p + ".md", File: "eol/" + p + ".md"})
	}
	return fs
}

// Validator parses a downloaded file (the importer's parser for its
// kind) so that a file that downloads and verifies but does not parse
// never replaces a good one.
type Validator func(kind, path string) error

// Updater downloads feeds into Dir.
type Updater struct {
	Dir      string
	Client   *http.Client
	Log      *slog.Logger
	Validate Validator
	// MaxSize bounds one download (default 1 GiB: NVD's largest yearly
	// file is well under that).
	MaxSize int64
	// UserAgent names heir to the publishers.
	UserAgent string
}

// Result says what happened to one feed.
type Result struct {
	Feed     string `json:"feed"`
	Status   string `json:"status"` // updated, unchanged, failed
	Path     string `json:"path,omitempty"`
	Bytes    int64  `json:"bytes,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Verified string `json:"verified,omitempty"` // what was checked
	Err      string `json:"error,omitempty"`
}

// Statuses.
const (
	Updated   = "updated"
	Unchanged = "unchanged"
	Failed    = "failed"
)

// Update fetches every feed. A failed feed leaves its previous file in
// place and does not stop the others; the error is non-nil only when
// ctx is cancelled.
func (u *Updater) Update(ctx context.Context, feeds []Feed) ([]Result, error) {
	var out []Result
	for _, f := range feeds {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		r := u.one(ctx, f)
		if r.Status == Failed {
			u.log().Warn("feed update failed; previous copy kept", "feed", f.Name, "err", r.Err)
		} else {
			u.log().Info("feed", "feed", f.Name, "status", r.Status, "bytes", r.Bytes)
		}
		out = append(out, r)
	}
	return out, ctx.Err()
}

func (u *Updater) log() *slog.Logger {
	if u.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return u.Log
}

func (u *Updater) client() *http.Client {
	if u.Client != nil {
		return u.Client
	}
	return &http.Client{Timeout: 10 * time.Minute}
}

func (u *Updater) one(ctx context.Context, f Feed) Result {
	r := Result{Feed: f.Name}
	fail := func(err error) Result {
		r.Status, r.Err = Failed, err.Error()
		return r
	}
	if f.File == "" || filepath.IsAbs(f.File) || strings.Contains(filepath.ToSlash(filepath.Clean(f.File)), "../") {
		return fail(fmt.Errorf("feed %s: file %q must be a relative path inside the feeds folder", f.Name, f.File))
	}
	dst := filepath.Join(u.Dir, filepath.FromSlash(f.File))
	r.Path = dst
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return fail(err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.part")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name()) // after a rename this removes nothing
	h256, h512 := sha256.New(), sha512.New()
	n, err := u.download(ctx, f.URL, io.MultiWriter(tmp, h256, h512))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	r.Bytes = n
	r.SHA256 = hex.EncodeToString(h256.Sum(nil))
	var checked []string
	if f.MinSize > 0 {
		if n < f.MinSize {
			return fail(fmt.Errorf("%d bytes, fewer than the %d expected: truncated or an error page", n, f.MinSize))
		}
		checked = append(checked, "size")
	}
	if f.SHA256URL != "" {
		if err := u.checkDigest(ctx, f.SHA256URL, h256, "sha256"); err != nil {
			return fail(err)
		}
		checked = append(checked, "sha256 ("+f.SHA256URL+")")
	}
	if f.SHA512URL != "" {
		if err := u.checkDigest(ctx, f.SHA512URL, h512, "sha512"); err != nil {
			return fail(err)
		}
		checked = append(checked, "sha512")
	}
	if strings.HasSuffix(f.File, ".gz") {
		size, sum, err := gunzipDigest(tmp.Name())
		if err != nil {
			return fail(fmt.Errorf("downloaded gzip is broken: %w", err))
		}
		checked = append(checked, "gzip")
		if f.NVDMetaURL != "" {
			meta, err := u.fetchMeta(ctx, f.NVDMetaURL)
			if err != nil {
				return fail(err)
			}
			if !strings.EqualFold(meta.SHA256, sum) {
				return fail(fmt.Errorf("sha256 of the uncompressed feed %s, the .meta file says %s", sum, meta.SHA256))
			}
			if meta.Size != 0 && meta.Size != size {
				return fail(fmt.Errorf("uncompressed size %d, the .meta file says %d", size, meta.Size))
			}
			checked = append(checked, "nvd meta sha256+size")
		}
	}
	if u.Validate != nil && f.Kind != "" {
		if err := u.Validate(f.Kind, tmp.Name()); err != nil {
			return fail(fmt.Errorf("downloaded file does not parse as %s: %w", f.Kind, err))
		}
		checked = append(checked, "parses")
	}
	r.Verified = strings.Join(checked, ", ")
	if old, err := fileSHA256(dst); err == nil && old == r.SHA256 {
		r.Status = Unchanged
		return r
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fail(err)
	}
	r.Status = Updated
	return r
}

func (u *Updater) get(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	ua := u.UserAgent
	if ua == "" {
		ua = "heir-feeds/1"
	}
	req.Header.Set("User-Agent", ua)
	resp, err := u.client().Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp, nil
}

func (u *Updater) download(ctx context.Context, url string, w io.Writer) (int64, error) {
	resp, err := u.get(ctx, url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	limit := u.MaxSize
	if limit == 0 {
		limit = 1 << 30
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return n, fmt.Errorf("GET %s: body: %w", url, err)
	}
	if n > limit {
		return n, fmt.Errorf("GET %s: larger than %d bytes", url, limit)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("GET %s: %d bytes of %d", url, n, resp.ContentLength)
	}
	return n, nil
}

// checkDigest compares a hash with the first hex word of a digest file.
func (u *Updater) checkDigest(ctx context.Context, url string, h hash.Hash, name string) error {
	resp, err := u.get(ctx, url)
	if err != nil {
		return fmt.Errorf("%s file: %w", name, err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(io.LimitReader(resp.Body, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s file: %w", name, err)
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return fmt.Errorf("%s file %s is empty", name, url)
	}
	want := strings.ToLower(fields[0])
	got := hex.EncodeToString(h.Sum(nil))
	if want != got {
		return fmt.Errorf("%s mismatch: downloaded %s, published %s", name, got, want)
	}
	return nil
}

func (u *Updater) fetchMeta(ctx context.Context, url string) (nvd.Meta, error) {
	resp, err := u.get(ctx, url)
	if err != nil {
		return nvd.Meta{}, fmt.Errorf("meta file: %w", err)
	}
	defer resp.Body.Close()
	m, err := nvd.ParseMeta(resp.Body)
	if err != nil {
		return m, fmt.Errorf("meta file %s: %w", url, err)
	}
	return m, nil
}

func gunzipDigest(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return 0, "", err
	}
	h := sha256.New()
	n, err := io.Copy(h, zr)
	if err != nil {
		return n, "", err
	}
	return n, strings.ToUpper(hex.EncodeToString(h.Sum(nil))), zr.Close()
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
