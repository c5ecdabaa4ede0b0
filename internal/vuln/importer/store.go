package importer

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/heir-emd/heir/internal/inventory"
	"github.com/heir-emd/heir/internal/vuln"
)

// Store keeps the knowledge base and the imported inventory in a folder
// between commands (kb.json.gz, inventory.json), each written to a
// temporary file and renamed over the old one, so a crash never leaves a
// half-written file. It is the stand-in for the store of issue 5.
type Store struct{ Dir string }

const (
	kbFile  = "kb.json.gz"
	invFile = "inventory.json"
)

// Load reads what the folder holds; a missing folder or file is empty.
func (s Store) Load() (*vuln.KB, *inventory.Devices, error) {
	kb := vuln.NewKB()
	f, err := os.Open(filepath.Join(s.Dir, kbFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, fmt.Errorf("load knowledge base: %w", err)
	default:
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, nil, fmt.Errorf("load knowledge base %s: %w", f.Name(), err)
		}
		var snap vuln.Snapshot
		if err := json.NewDecoder(zr).Decode(&snap); err != nil {
			return nil, nil, fmt.Errorf("load knowledge base %s: %w", f.Name(), err)
		}
		kb = vuln.Restore(snap)
	}
	devs := inventory.NewDevices(nil)
	data, err := os.ReadFile(filepath.Join(s.Dir, invFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, fmt.Errorf("load inventory: %w", err)
	default:
		var list []inventory.Device
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, nil, fmt.Errorf("load inventory %s: %w", invFile, err)
		}
		devs.Put(list)
	}
	return kb, devs, nil
}

// Save writes both files atomically.
func (s Store) Save(kb *vuln.KB, devs *inventory.Devices) error {
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	err := writeAtomic(filepath.Join(s.Dir, kbFile), func(f *os.File) error {
		zw := gzip.NewWriter(f)
		if err := json.NewEncoder(zw).Encode(kb.Snapshot()); err != nil {
			return err
		}
		return zw.Close()
	})
	if err != nil {
		return fmt.Errorf("save knowledge base: %w", err)
	}
	if devs == nil {
		return nil
	}
	err = writeAtomic(filepath.Join(s.Dir, invFile), func(f *os.File) error {
		return json.NewEncoder(f).Encode(devs.List())
	})
	if err != nil {
		return fmt.Errorf("save inventory: %w", err)
	}
	return nil
}

func writeAtomic(path string, fill func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Run is `heir import KIND PATH…` whole: load the folder's knowledge base
// and inventory, import, save. The report says what each file gave; the
// error is for usage errors and failures to load or save.
func Run(ctx context.Context, dir, kind string, paths []string, opt Options, log *slog.Logger) (*Report, error) {
	st := Store{Dir: dir}
	kb, devs, err := st.Load()
	if err != nil {
		return nil, err
	}
	im := &Importer{KB: kb, Norm: vuln.DefaultNormaliser(), Devices: devs, Log: log}
	rep, err := im.Import(ctx, kind, paths, opt)
	if err != nil {
		return rep, err
	}
	if rep.Files > rep.Rejected {
		if err := st.Save(kb, devs); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// FeedKinds maps the sub-folders feeds.Updater writes to import kinds.
var FeedKinds = map[string]string{"kev": "kev", "epss": "epss", "nvd": "nvd", "eol": "eol", "csaf": "csaf"}

// ImportFeeds imports a feeds folder (what `heir feeds update` fetched):
// each known sub-folder as its kind, in a fixed order (advisories before
// the KEV and EPSS joins).
func ImportFeeds(ctx context.Context, dir, feedsDir string, log *slog.Logger) ([]*Report, error) {
	var out []*Report
	for _, sub := range []string{"csaf", "nvd", "eol", "kev", "epss"} {
		p := filepath.Join(feedsDir, sub)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		rep, err := Run(ctx, dir, FeedKinds[sub], []string{p}, Options{}, log)
		if err != nil {
			return out, fmt.Errorf("import feeds %s: %w", sub, err)
		}
		out = append(out, rep)
	}
	return out, nil
}
