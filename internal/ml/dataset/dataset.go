// Package dataset reads labelled feature tables (CSV, optionally gzip
// compressed) into a dense float32 matrix for the learners in internal/ml.
//
// A Spec names the label column and chooses the feature columns (all
// numeric columns but the dropped ones, or an explicit list in order).
// Values are parsed strictly: "inf", "+inf" and "-inf" are kept as
// infinities (tree learners order them above or below every finite value),
// an empty cell becomes Spec.Missing only when Spec.AllowMissing says so,
// and anything else that is not a number is an error naming the line and
// column. NaN is always refused: trees cannot order it.
//
// Reading is bounded: MaxRows and MaxLineBytes cap what hostile input can
// make it hold. It depends on the standard library only.
package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Spec says which columns of a table are features and which is the label.
type Spec struct {
	// Label is the label column's header name. Required.
	Label string
	// Features, when not empty, are the feature columns in the order the
	// model sees them; every name must exist. When empty, every column but
	// the label and Drop is a feature, in file order.
	Features []string
	// Drop lists columns that are never features (leaky or identifying).
	// Naming a column that does not exist is an error, so that a renamed
	// column cannot silently leak back in.
	Drop []string
	// AllowMissing turns empty cells into Missing; otherwise an empty cell
	// is an error.
	AllowMissing bool
	Missing      float32
	// MaxRows bounds the rows read (0: DefaultMaxRows); more is an error.
	MaxRows int
	// MaxLineBytes bounds one record (0: DefaultMaxLineBytes).
	MaxLineBytes int
}

// Bounds used when a Spec leaves them zero.
const (
	DefaultMaxRows      = 10_000_000
	DefaultMaxLineBytes = 1 << 20
)

// Dataset is a dense table: N rows of D float32 features, row-major, and
// one label text per row.
type Dataset struct {
	Features []string
	X        []float32 // N×D, row i is X[i*D:(i+1)*D]
	Labels   []string
	N, D     int
	// Counts of special values met, for reports and docs.
	PosInf, NegInf, Missing int
}

// Row returns row i's features (a view, not a copy).
func (d *Dataset) Row(i int) []float32 { return d.X[i*d.D : (i+1)*d.D : (i+1)*d.D] }

// Subset returns the rows idx, in that order, as a new Dataset.
func (d *Dataset) Subset(idx []int) *Dataset {
	out := &Dataset{Features: d.Features, D: d.D, N: len(idx),
		X: make([]float32, 0, len(idx)*d.D), Labels: make([]string, 0, len(idx))}
	for _, i := range idx {
		out.X = append(out.X, d.Row(i)...)
		out.Labels = append(out.Labels, d.Labels[i])
	}
	return out
}

// ReadFile reads a CSV or gzip-compressed CSV file.
func ReadFile(path string, spec Spec) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read dataset: %w", err)
	}
	defer f.Close()
	d, err := Read(f, spec)
	if err != nil {
		return nil, fmt.Errorf("read dataset %s: %w", path, err)
	}
	return d, nil
}

// gzipMagic starts every gzip stream; Read decompresses such input.
var gzipMagic = []byte{0x1f, 0x8b}

// Read reads a CSV table (gzip-compressed or not: the first bytes say)
// with a header line.
func Read(r io.Reader, spec Spec) (*Dataset, error) {
	if spec.Label == "" {
		return nil, errors.New("dataset spec: no label column named")
	}
	maxRows, maxLine := spec.MaxRows, spec.MaxLineBytes
	if maxRows <= 0 {
		maxRows = DefaultMaxRows
	}
	if maxLine <= 0 {
		maxLine = DefaultMaxLineBytes
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(2); bytes.Equal(head, gzipMagic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	// encoding/csv has no record size bound: a limited line reader feeds it
	// one line at a time so that one endless line cannot exhaust memory.
	lr := &lineLimiter{r: br, max: maxLine}
	cr := csv.NewReader(lr)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = 0
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", lr.wrap(err))
	}
	header = append([]string(nil), header...)
	for i, h := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	cols, names, labelCol, err := selectColumns(header, spec)
	if err != nil {
		return nil, err
	}
	d := &Dataset{Features: names, D: len(cols)}
	labels := map[string]string{} // interning: a few distinct labels, many rows
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, lr.wrap(err))
		}
		if d.N >= maxRows {
			return nil, fmt.Errorf("more than %d rows", maxRows)
		}
		for _, c := range cols {
			v, err := d.parse(rec[c], spec)
			if err != nil {
				return nil, fmt.Errorf("line %d column %q: %w", line, header[c], err)
			}
			d.X = append(d.X, v)
		}
		lab := rec[labelCol]
		if lab == "" {
			return nil, fmt.Errorf("line %d: empty label in column %q", line, header[labelCol])
		}
		s, ok := labels[lab]
		if !ok {
			if len(labels) >= 1<<16 {
				return nil, fmt.Errorf("line %d: more than %d distinct labels", line, 1<<16)
			}
			s = strings.Clone(lab)
			labels[s] = s
		}
		d.Labels = append(d.Labels, s)
		d.N++
	}
	if d.N == 0 {
		return nil, errors.New("no data rows")
	}
	return d, nil
}

func (d *Dataset) parse(s string, spec Spec) (float32, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if !spec.AllowMissing {
			return 0, errors.New("empty value (the spec does not allow missing values)")
		}
		d.Missing++
		return spec.Missing, nil
	}
	switch strings.ToLower(s) {
	case "inf", "+inf", "infinity", "+infinity":
		d.PosInf++
		return float32(math.Inf(1)), nil
	case "-inf", "-infinity":
		d.NegInf++
		return float32(math.Inf(-1)), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number: %q", truncate(s))
	}
	if math.IsNaN(v) {
		return 0, errors.New("NaN is not a usable value")
	}
	// Values beyond float32's range become infinities, which keeps their
	// order; counting them keeps the report honest.
	f := float32(v)
	if math.IsInf(float64(f), 1) {
		d.PosInf++
	} else if math.IsInf(float64(f), -1) {
		d.NegInf++
	}
	return f, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func selectColumns(header []string, spec Spec) (cols []int, names []string, label int, err error) {
	index := make(map[string]int, len(header))
	for i, h := range header {
		if _, dup := index[h]; dup {
			return nil, nil, 0, fmt.Errorf("header: column %q appears twice", h)
		}
		index[h] = i
	}
	label, ok := index[spec.Label]
	if !ok {
		return nil, nil, 0, fmt.Errorf("header: no label column %q", spec.Label)
	}
	drop := map[string]bool{}
	for _, n := range spec.Drop {
		if _, ok := index[n]; !ok {
			return nil, nil, 0, fmt.Errorf("header: column %q to drop does not exist", n)
		}
		drop[n] = true
	}
	if len(spec.Features) > 0 {
		for _, n := range spec.Features {
			i, ok := index[n]
			switch {
			case !ok:
				return nil, nil, 0, fmt.Errorf("header: no feature column %q", n)
			case i == label:
				return nil, nil, 0, fmt.Errorf("feature %q is the label column", n)
			case drop[n]:
				return nil, nil, 0, fmt.Errorf("feature %q is also dropped", n)
			}
			cols = append(cols, i)
			names = append(names, n)
		}
		return cols, names, label, nil
	}
	for i, h := range header {
		if i == label || drop[h] {
			continue
		}
		cols = append(cols, i)
		names = append(names, h)
	}
	if len(cols) == 0 {
		return nil, nil, 0, errors.New("header: no feature columns left")
	}
	return cols, names, label, nil
}

// errLineTooLong reports a record longer than Spec.MaxLineBytes.
var errLineTooLong = errors.New("line longer than the limit")

// lineLimiter passes bytes through but fails once a single record exceeds
// max bytes, so csv.Reader never buffers an unbounded record. A newline
// inside double quotes does not end a record, so quote parity is tracked.
type lineLimiter struct {
	r       *bufio.Reader
	max     int
	cur     int
	inQuote bool
	fail    bool
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	if l.fail {
		return 0, errLineTooLong
	}
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		switch p[i] {
		case '"':
			l.inQuote = !l.inQuote
		case '\n':
			if !l.inQuote {
				l.cur = 0
				continue
			}
		}
		l.cur++
		if l.cur > l.max {
			l.fail = true
			return i, errLineTooLong
		}
	}
	return n, err
}

func (l *lineLimiter) wrap(err error) error {
	if l.fail {
		return fmt.Errorf("%w (%d bytes)", errLineTooLong, l.max)
	}
	return err
}
