// Package epss reads FIRST's daily EPSS score files: a comment line
// "#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z" and then
// CSV with the header cve,epss,percentile (gzip-compressed as downloaded;
// the importer decompresses).
package epss

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/heir-emd/heir/internal/vuln"
)

// maxRows bounds one file (about 290,000 CVEs in 2025).
const maxRows = 2_000_000

// Result is a parsed score file.
type Result struct {
	Model    string
	Date     string // score date, YYYY-MM-DD
	Scores   map[string]vuln.EPSS
	Problems []vuln.Problem
}

// Parse reads an EPSS CSV. Rows with a bad CVE id or a score outside
// [0, 1] are reported by line and skipped; a file without the cve,epss,
// percentile header is rejected whole.
func Parse(file string, r io.Reader) (*Result, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	res := &Result{Scores: map[string]vuln.EPSS{}}
	line := 0
	// The comment line is optional (older files have none).
	if b, err := br.Peek(1); err == nil && b[0] == '#' {
		l, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, vuln.Fatal(vuln.Problem{File: file, Line: 1, Msg: err.Error()})
		}
		line++
		if len(l) > 4096 {
			return nil, vuln.Fatal(vuln.Problem{File: file, Line: 1, Msg: "comment line too long"})
		}
		for _, kv := range strings.Split(strings.TrimSpace(strings.TrimPrefix(l, "#")), ",") {
			k, v, _ := strings.Cut(kv, ":")
			switch strings.TrimSpace(k) {
			case "model_version":
				res.Model = strings.TrimSpace(v)
			case "score_date":
				d := strings.TrimSpace(v)
				if len(d) >= 10 {
					d = d[:10]
				}
				res.Date = d
			}
		}
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = 3
	cr.ReuseRecord = true
	hdr, err := cr.Read()
	if err != nil {
		return nil, vuln.Fatal(vuln.Problem{File: file, Line: line + 1, Msg: "no cve,epss,percentile header: " + err.Error()})
	}
	line++
	if strings.TrimSpace(hdr[0]) != "cve" || strings.TrimSpace(hdr[1]) != "epss" || strings.TrimSpace(hdr[2]) != "percentile" {
		return nil, vuln.Fatal(vuln.Problem{File: file, Line: line, Msg: fmt.Sprintf("header %q, want cve,epss,percentile", strings.Join(hdr, ","))})
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// FieldPos is defined only after a successful Read: positions
			// come from the parse error.
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				if errors.Is(pe.Err, csv.ErrFieldCount) {
					res.Problems = append(res.Problems, vuln.Problem{File: file, Line: pe.Line + line - 1, Column: pe.Column, Msg: pe.Err.Error()})
					continue
				}
				// A broken quote ruins the rest of the file: stop, keep
				// the rows read.
				res.Problems = append(res.Problems, vuln.Problem{File: file, Line: pe.Line + line - 1, Column: pe.Column, Msg: pe.Err.Error() + "; reading stopped, the rows before are kept"})
				break
			}
			res.Problems = append(res.Problems, vuln.Problem{File: file, Msg: err.Error() + "; reading stopped, the rows before are kept"})
			break
		}
		pl, _ := cr.FieldPos(0)
		pl += line - 1
		if len(res.Scores) >= maxRows {
			res.Problems = append(res.Problems, vuln.Problem{File: file, Line: pl, Msg: fmt.Sprintf("more than %d rows; the rest ignored", maxRows)})
			break
		}
		id := strings.TrimSpace(rec[0])
		if !strings.HasPrefix(id, "CVE-") || len(id) < 13 || len(id) > 24 {
			res.Problems = append(res.Problems, vuln.Problem{File: file, Line: pl, Msg: fmt.Sprintf("%q is not a CVE id", clip(id))})
			continue
		}
		s, err1 := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		p, err2 := strconv.ParseFloat(strings.TrimSpace(rec[2]), 64)
		if err1 != nil || err2 != nil || !(s >= 0 && s <= 1) || !(p >= 0 && p <= 1) {
			res.Problems = append(res.Problems, vuln.Problem{File: file, Line: pl, Msg: fmt.Sprintf("epss %q, percentile %q: want numbers in [0, 1]", clip(rec[1]), clip(rec[2]))})
			continue
		}
		res.Scores[id] = vuln.EPSS{Score: s, Percentile: p, Date: res.Date, Model: res.Model}
	}
	return res, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
