package oui

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Files are the IEEE listings LoadDir reads, in the CSV form the IEEE
// publishes (standards-oui.ieee.org/oui/oui.csv …) and Debian's ieee-data
// installs under /usr/share/ieee-data.
var Files = []string{"oui.csv", "mam.csv", "oui36.csv", "iab.csv"}

// Bounds on what a listing may hold; the 2022 listings have 46,524 rows
// and 13 MB together, so these leave room for decades of growth while
// refusing a file that is not a registry.
const (
	maxFileBytes = 64 << 20
	maxRows      = 1 << 20
)

// LoadDir reads whichever of Files exist in dir. It fails when none does
// or when one is malformed.
func LoadDir(dir string) (*Registry, error) {
	b := newBuilder()
	found := 0
	for _, name := range Files {
		p := filepath.Join(dir, name)
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open IEEE registry: %w", err)
		}
		err = b.readCSV(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read IEEE registry %s: %w", p, err)
		}
		found++
	}
	if found == 0 {
		return nil, fmt.Errorf("load IEEE registry: none of %s in %s", strings.Join(Files, ", "), dir)
	}
	return b.build(), nil
}

// LoadCSV reads one IEEE listing in CSV form (header "Registry,Assignment,
// Organization Name,Organization Address").
func LoadCSV(r io.Reader) (*Registry, error) {
	b := newBuilder()
	if err := b.readCSV(r); err != nil {
		return nil, fmt.Errorf("read IEEE registry: %w", err)
	}
	return b.build(), nil
}

func (b *builder) readCSV(r io.Reader) error {
	lr := &io.LimitedReader{R: r, N: maxFileBytes + 1}
	cr := csv.NewReader(lr)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if len(head) < 3 || !strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(head[1], "\ufeff")), "Assignment") {
		return fmt.Errorf("header %q: not an IEEE registry listing", strings.Join(head, ","))
	}
	for row := 2; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if lr.N <= 0 {
			return fmt.Errorf("larger than %d bytes", maxFileBytes)
		}
		if row > maxRows {
			return fmt.Errorf("more than %d rows", maxRows)
		}
		if len(rec) < 3 {
			return fmt.Errorf("row %d: %d fields, want at least 3", row, len(rec))
		}
		k, err := parseAssignment(strings.TrimSpace(rec[1]))
		if err != nil {
			return fmt.Errorf("row %d: %w", row, err)
		}
		name := cleanName(rec[2])
		if useless(name) {
			continue
		}
		b.addKey(k, name)
	}
	return nil
}

// parseAssignment turns a block written in hex ("0050C2", "741AE09",
// "70B3D5F2F") into a registry key.
func parseAssignment(s string) (uint64, error) {
	var bits uint
	switch len(s) {
	case 6:
		bits = bitsMAL
	case 7:
		bits = bitsMAM
	case 9:
		bits = bitsMAS
	default:
		return 0, fmt.Errorf("assignment %q: want 6, 7 or 9 hex digits", s)
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d, ok := unhex(s[i])
		if !ok {
			return 0, fmt.Errorf("assignment %q: bad hex digit", s)
		}
		v = v<<4 | uint64(d)
	}
	return v<<(48-bits)<<8 | uint64(bits), nil
}

// LoadPath reads a registry from a folder holding the IEEE listings (as
// LoadDir) or from one listing file (as LoadCSV).
func LoadPath(path string) (*Registry, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load IEEE registry: %w", err)
	}
	if st.IsDir() {
		return LoadDir(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load IEEE registry: %w", err)
	}
	defer f.Close()
	r, err := LoadCSV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Default returns the embedded registry, overlaid with the listings at
// path when path is not empty (a newer download, or /usr/share/ieee-data).
func Default(path string) (*Registry, error) {
	emb, err := Embedded()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return emb, nil
	}
	r, err := LoadPath(path)
	if err != nil {
		return nil, err
	}
	return Merge(r, emb), nil
}
