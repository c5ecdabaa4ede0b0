package ui

import (
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
)

// sensorsView is the administrators' page of the sensors that may
// publish to the node's bus.
type sensorsView struct {
	Sensors []store.Sensor
	Problem string
}

func (u *UI) sensors(w http.ResponseWriter, r *http.Request) {
	u.renderSensors(w, r, "", http.StatusOK)
}

func (u *UI) renderSensors(w http.ResponseWriter, r *http.Request, problem string, status int) {
	var l server.List[store.Sensor]
	if err := u.api.get(r, "/api/v1/sensors", url.Values{"limit": {"1000"}, "sort": {"name"}}, &l); err != nil {
		u.failAPI(w, r, err)
		return
	}
	pg := u.newPage(r, "sensors", "Sensors")
	pg.Data = sensorsView{Sensors: l.Items, Problem: problem}
	u.render(w, r, status, "sensors", pg)
}

// issueSensor registers a sensor and answers with its credentials file
// as a download: the file is the secret, so it is sent this once and
// never shown in a page, a cookie or a URL.
func (u *UI) issueSensor(w http.ResponseWriter, r *http.Request) {
	var out server.IssuedSensor
	err := u.api.do(r, http.MethodPost, "/api/v1/sensors", nil, server.IssueSensorRequest{Name: strings.TrimSpace(r.PostFormValue("name"))}, &out)
	switch {
	case err == nil:
	case isStatus(err, http.StatusBadRequest) || isStatus(err, http.StatusConflict) || isStatus(err, http.StatusNotImplemented):
		u.renderSensors(w, r, "Not registered: "+problemText(err), http.StatusBadRequest)
		return
	default:
		u.failAPI(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": out.FileName}))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(out.Credentials))
}

// revokeSensor withdraws a sensor's credentials; the bus disconnects it.
func (u *UI) revokeSensor(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := u.api.do(r, http.MethodDelete, "/api/v1/sensors/"+pathID(name), nil, nil, nil); err != nil {
		u.failAPI(w, r, err)
		return
	}
	u.flashTo(w, r, "/sensors", "Revoked: sensor "+name+" is disconnected and its credentials no longer work.")
}
