package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/heir-emd/heir/internal/rama"
	"github.com/heir-emd/heir/internal/store"
)

// RAMABase is the RAMA configuration the node scores with when no
// administrator has stored one: its --rama-config file or the shipped
// defaults.
type RAMABase struct {
	// YAML is the document (nil: the shipped defaults).
	YAML []byte
	// Source says where it comes from, for the answer ("file
	// /etc/heir/rama.yaml"); empty: "defaults".
	Source string
}

// RAMASettings is the RAMA configuration in force and where it comes from.
type RAMASettings struct {
	// Source is "stored" (set through this API), or the base's: "file …"
	// (the node's --rama-config) or "defaults" (shipped with heir).
	Source string `json:"source"`
	// Version is the stored setting's version (0: none stored); a change
	// or a reset must send the version it read.
	Version   int64      `json:"version"`
	Updated   *time.Time `json:"updated,omitempty"`
	UpdatedBy string     `json:"updated_by,omitempty"`
	// YAML is the document in force, laid over the shipped defaults.
	YAML string `json:"yaml"`
	// Defaults are the shipped defaults, every key documented.
	Defaults string `json:"defaults"`
	// Error says why a stored document is not in force: this version of
	// heir refuses it, and the node scores with the base meanwhile.
	Error string `json:"error,omitempty"`
}

// RAMASettingsRequest changes the RAMA configuration.
type RAMASettingsRequest struct {
	// Version is the version read (0: none stored yet).
	Version int64 `json:"version"`
	// YAML is the new document: only the keys that differ from the
	// shipped defaults need be given.
	YAML string `json:"yaml"`
}

// ramaSettings reads what is in force.
func (s *Server) ramaSettings(r *http.Request) (RAMASettings, error) {
	base := s.opts.RAMA
	out := RAMASettings{Source: base.Source, YAML: string(base.YAML), Defaults: string(rama.DefaultYAML())}
	if out.Source == "" {
		out.Source = "defaults"
	}
	if base.YAML == nil {
		out.YAML = out.Defaults
	}
	st, err := s.st.Setting(r.Context(), store.SettingRAMA)
	if errors.Is(err, store.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	out.Version, out.UpdatedBy = st.Version, st.UpdatedBy
	u := st.Updated
	out.Updated = &u
	if _, err := rama.ParseConfig("stored", []byte(st.Value)); err != nil {
		out.Error = err.Error()
		return out, nil
	}
	out.Source, out.YAML = "stored", st.Value
	return out, nil
}

func (s *Server) getRAMASettings(w http.ResponseWriter, r *http.Request) {
	if err := newParams(r).done(); err != nil {
		s.fail(w, r, err)
		return
	}
	out, err := s.ramaSettings(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(out.Version, 10)))
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) putRAMASettings(w http.ResponseWriter, r *http.Request) {
	var req RAMASettingsRequest
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case req.Version < 0:
		s.fail(w, r, badInput("version", "want the version read (0: none stored)"))
		return
	}
	// The node refuses what it could not score with: the same parser as
	// --rama-config, so errors name the key and line.
	if _, err := rama.ParseConfig("yaml", []byte(req.YAML)); err != nil {
		s.fail(w, r, badInput("yaml", "%v", err))
		return
	}
	p, _ := PrincipalFrom(r.Context())
	if _, err := s.st.PutSetting(r.Context(), p.Actor(), store.Setting{Key: store.SettingRAMA, Version: req.Version, Value: req.YAML}); err != nil {
		s.fail(w, r, staleSetting(err))
		return
	}
	s.log.InfoContext(r.Context(), "RAMA configuration changed; it applies at the next scoring run", "by", p.Actor())
	s.getRAMASettings(w, r)
}

func (s *Server) resetRAMASettings(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	v := p.integer("version", 0, 1, 1<<62)
	if err := p.done(); err != nil {
		s.fail(w, r, err)
		return
	}
	if v == 0 {
		s.fail(w, r, badInput("version", "give the stored version read from GET (a reset must know what it removes)"))
		return
	}
	pr, _ := PrincipalFrom(r.Context())
	if err := s.st.ResetSetting(r.Context(), pr.Actor(), store.SettingRAMA, int64(v)); err != nil {
		s.fail(w, r, staleSetting(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// staleSetting turns a lost compare-and-set into a conflict the client can
// act on.
func staleSetting(err error) error {
	if errors.Is(err, store.ErrStale) {
		return fmt.Errorf("%w; read the settings again and redo the change: %w", err, store.ErrConflict)
	}
	return err
}
