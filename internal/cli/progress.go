package cli

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"golang.org/x/term"
)

// progress draws a one-line progress bar on a terminal. It is a no-op when
// the writer is not a terminal (unless forced), so logs and pipes stay clean.
type progress struct {
	w     io.Writer
	on    bool
	total int64
	start time.Time
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, mode string, total int64) *progress {
	p := &progress{w: w, total: total, start: time.Now()}
	switch mode {
	case "always":
		p.on = true
	case "never":
	default:
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			p.on = true
		}
	}
	return p
}

func (p *progress) update(done int64) {
	if !p.on {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	rate := float64(done) / 1e6 / max(el, 1e-3)
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r%8.1f MB  %6.1f MB/s ", float64(done)/1e6, rate)
		p.drawn = true
		return
	}
	frac := min(float64(done)/float64(p.total), 0.999)
	const width = 30
	n := int(frac * width)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%%  %6.1f MB/s ", strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100, rate)
	p.drawn = true
}

func (p *progress) done() {
	if p.on && p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 60))
	}
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
