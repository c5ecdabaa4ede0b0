// Package demo holds what `heir demo` ships so that it runs anywhere: a
// hospital-lab capture to replay and public vulnerability knowledge to
// import (bundle/SOURCES.md says where each comes from), and a capture
// source that moves a recording's times so that a replay happens now.
package demo

//go:generate ./gen.sh

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/capture"
)

//go:embed bundle/medlab-dev.pcap.gz bundle/csaf-icsma.tar.gz bundle/kev.json.gz bundle/eol.tar.gz bundle/inventory.csv
var bundle embed.FS

// CaptureName is the file WriteCapture writes.
const CaptureName = "medlab-dev.pcap.gz"

// WriteCapture writes the lab capture (gzip-compressed; heir reads it as
// is) into dir and returns its path.
func WriteCapture(dir string) (string, error) {
	b, err := bundle.ReadFile("bundle/" + CaptureName)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, CaptureName)
	return p, os.WriteFile(p, b, 0o600)
}

// Knowledge lists the knowledge WriteKnowledge writes: import kind and path.
type Knowledge struct {
	Kind string
	Path string
}

// WriteKnowledge unpacks the bundled advisories, KEV catalogue,
// end-of-life files and asset register into dir, in the order to import
// them. The asset register declares two of the lab's devices to be
// products of CISA's medical advisories (the lab's stand-ins do not say
// their model on the wire), so that the demo's vulnerability views match
// something, a known-exploited CVE among them.
func WriteKnowledge(dir string) ([]Knowledge, error) {
	if err := untar("bundle/csaf-icsma.tar.gz", dir); err != nil {
		return nil, err
	}
	if err := untar("bundle/eol.tar.gz", dir); err != nil {
		return nil, err
	}
	kev := filepath.Join(dir, "known_exploited_vulnerabilities.json")
	if err := gunzip("bundle/kev.json.gz", kev); err != nil {
		return nil, err
	}
	inv := filepath.Join(dir, "inventory.csv")
	b, err := bundle.ReadFile("bundle/inventory.csv")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(inv, b, 0o600); err != nil {
		return nil, err
	}
	return []Knowledge{
		{Kind: "csaf", Path: filepath.Join(dir, "csaf-icsma")},
		{Kind: "kev", Path: kev},
		{Kind: "eol", Path: filepath.Join(dir, "eol")},
		{Kind: "inventory", Path: inv},
	}, nil
}

func gunzip(name, dst string) error {
	f, err := bundle.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, zr); err != nil {
		out.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return out.Close()
}

// untar unpacks an embedded tar.gz of regular files and folders into dir,
// refusing any path that would leave it.
func untar(name, dir string) error {
	f, err := bundle.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(os.PathSeparator)) {
			return fmt.Errorf("%s: %q leaves the folder", name, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, io.LimitReader(tr, 64<<20)); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		}
	}
}

// Shifted is a capture source whose packets happen By later than
// recorded: a replay of an old recording that the node sees as today's
// traffic.
type Shifted struct {
	capture.Source
	By time.Duration
}

// Next returns the source's next packet with its time moved.
func (s Shifted) Next(ctx context.Context) (*capture.Packet, error) {
	p, err := s.Source.Next(ctx)
	if p != nil {
		p.Time = p.Time.Add(s.By)
	}
	return p, err
}
