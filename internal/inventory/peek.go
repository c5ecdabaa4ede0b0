package inventory

import (
	"bufio"
	"io"
)

// peekReader lets ReadCSV look at the header line before the CSV reader
// consumes it.
type peekReader struct{ *bufio.Reader }

func newPeekReader(r io.Reader) *peekReader { return &peekReader{bufio.NewReaderSize(r, 64<<10)} }

// peekLine returns the first line (at most the buffer's size) without
// consuming it.
func (p *peekReader) peekLine() (string, error) {
	for n := 256; ; n *= 2 {
		b, err := p.Peek(n)
		for i, c := range b {
			if c == '\n' {
				return string(b[:i]), nil
			}
		}
		if err != nil || n >= 64<<10 {
			return string(b), err
		}
	}
}
