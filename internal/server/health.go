package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Health answers.
type healthAnswer struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// healthz says the process is up and serving (liveness): it touches no
// dependency, so a slow database never gets the node restarted.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, healthAnswer{Status: "ok"})
}

const readyTimeout = 3 * time.Second

// readyz says whether the node can do its work: the store answers and the
// bus is connected. The answer names each check's result but no error
// text (it is public); the log has the details.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	ans := healthAnswer{Status: "ready", Checks: map[string]string{}}
	check := func(name string, err error) {
		if err != nil {
			s.log.WarnContext(ctx, "not ready", slog.String("check", name), slog.Any("err", err))
			ans.Checks[name], ans.Status = "failing", "unavailable"
			return
		}
		ans.Checks[name] = "ok"
	}
	_, err := s.st.SchemaVersion(ctx)
	check("store", err)
	if s.opts.Bus != nil {
		check("bus", s.opts.Bus.Healthy(ctx))
	}
	code := http.StatusOK
	if ans.Status != "ready" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, ans)
}
