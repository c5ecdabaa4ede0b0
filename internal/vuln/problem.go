package vuln

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Problem is something wrong in an input file, with where it is: a JSON
// byte offset with its line and column, a CSV line, a JSON path. A problem
// with Fatal set rejected the whole file (nothing from it was imported);
// the others cost one record or one field.
type Problem struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Offset int64  `json:"offset,omitempty"` // 0-based byte offset of the offending byte
	Path   string `json:"path,omitempty"`
	Msg    string `json:"msg"`
	Fatal  bool   `json:"fatal,omitempty"`
}

func (p Problem) String() string {
	s := p.File
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
		if p.Column > 0 {
			s += ":" + strconv.Itoa(p.Column)
		}
	}
	if p.Offset > 0 {
		s += " (byte " + strconv.FormatInt(p.Offset, 10) + ")"
	}
	if p.Path != "" {
		s += " " + p.Path
	}
	return s + ": " + p.Msg
}

// FileError is a file that could not be imported at all.
type FileError struct{ Problem Problem }

func (e *FileError) Error() string { return e.Problem.String() }

// Fatal builds the error of a file rejected whole.
func Fatal(p Problem) error {
	p.Fatal = true
	return &FileError{Problem: p}
}

// LineCol turns a byte offset into a 1-based line and column.
func LineCol(data []byte, off int64) (line, col int) {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// JSONProblem describes a JSON decoding error with its position.
func JSONProblem(file string, data []byte, err error) Problem {
	p := Problem{File: file, Msg: err.Error()}
	positioned := true
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		// The decoder stops after reading the offending byte: point at it.
		p.Offset = max(se.Offset-1, 0)
		p.Msg = "JSON syntax: " + se.Error()
	case errors.As(err, &te):
		p.Offset = te.Offset
		p.Path = te.Field
		p.Msg = fmt.Sprintf("JSON value %s where %s was expected", te.Value, te.Type)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		p.Offset = int64(len(data))
		p.Msg = "file ends in the middle of the JSON document"
	default:
		positioned = false
	}
	if positioned {
		p.Line, p.Column = LineCol(data, p.Offset)
	}
	return p
}

// MaxFileSize bounds a file read whole by the importers: the largest real
// inputs (an NVD yearly feed, about 60 MB uncompressed for recent years)
// fit; anything larger is refused rather than exhausting memory.
const MaxFileSize = 256 << 20

// ReadFile reads a file whole, refusing one larger than limit bytes.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAllLimit(f, limit)
}

// ReadAllLimit reads r whole, refusing more than limit bytes.
func ReadAllLimit(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}
