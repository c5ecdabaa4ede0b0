package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/auth"
	"github.com/heir-emd/heir/internal/store"
)

// memPage pages a small list held in memory (users, tokens, sensors: tens
// of rows) with the same cursors and sort parameters as the store's
// lists. key returns a row's sort value; rows with equal values are
// ordered by id.
func memPage[T any](items []T, o store.ListOptions, keys []string, key func(T, string) string, id func(T) string) (store.Page[T], error) {
	srt := o.Sort
	if srt.Key == "" {
		srt = store.Sort{Key: keys[0]} // small lists read best in ascending order
	}
	less := func(a, b T) int {
		c := cmp.Or(strings.Compare(key(a, srt.Key), key(b, srt.Key)), strings.Compare(id(a), id(b)))
		if srt.Desc {
			return -c
		}
		return c
	}
	slices.SortFunc(items, less)
	start := 0
	if o.Cursor != "" {
		c, err := store.DecodeCursor(o.Cursor, srt, false)
		if err != nil {
			return store.Page[T]{}, err
		}
		start = len(items)
		for i, it := range items {
			v, ii := key(it, srt.Key), id(it)
			after := cmp.Or(strings.Compare(v, *c.Text), strings.Compare(ii, c.ID))
			if srt.Desc {
				after = -after
			}
			if after > 0 {
				start = i
				break
			}
		}
	}
	n := o.PageLimit()
	end := min(len(items), start+n)
	pg := store.Page[T]{Items: items[start:end], Total: -1}
	if o.WithTotal {
		pg.Total = int64(len(items))
	}
	if end < len(items) {
		last := items[end-1]
		v := key(last, srt.Key)
		pg.Next = store.Cursor{Sort: srt.String(), Text: &v, ID: id(last)}.Encode()
	}
	return pg, nil
}

func timeKey(t time.Time) string { return fmt.Sprintf("%020d", t.UnixMicro()) }

// User lists.
var userSortKeys = []string{"name", "created", "updated"}

func userKey(u store.User, k string) string {
	switch k {
	case "created":
		return timeKey(u.Created)
	case "updated":
		return timeKey(u.Updated)
	}
	return u.Name
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	o := p.listOptions(userSortKeys)
	roles := p.list("role", validRole)
	disabled := p.boolean("disabled")
	text := strings.ToLower(p.str("q"))
	if err := p.done(); err != nil {
		s.fail(w, r, err)
		return
	}
	users, err := s.st.ListUsers(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	users = slices.DeleteFunc(users, func(u store.User) bool {
		switch {
		case len(roles) > 0 && !slices.ContainsFunc(u.Roles, func(x string) bool { return slices.Contains(roles, x) }):
			return true
		case disabled != nil && u.Disabled != *disabled:
			return true
		case text != "" && !strings.Contains(strings.ToLower(u.Name+" "+u.DisplayName), text):
			return true
		}
		return false
	})
	pg, err := memPage(users, o, userSortKeys, userKey, func(u store.User) string { return u.ID })
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeList(w, r, listOf(pg))
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	if err := newParams(r).done(); err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.st.User(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// CreateUserRequest adds a local user. Without a password the node makes
// a one-time password and returns it once.
type CreateUserRequest struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name,omitempty"`
	Roles       []string `json:"roles"`
	Password    string   `json:"password,omitempty"`
}

// CreatedUser is the answer to a user creation.
type CreatedUser struct {
	User store.User `json:"user"`
	// InitialPassword is the generated password, shown this once.
	InitialPassword string `json:"initial_password,omitempty"`
}

// LogValue keeps the generated password out of logs.
func (c CreatedUser) LogValue() slog.Value { return slog.AnyValue(c.User) }

func validUserName(n string) error {
	if n == "" || len(n) > 64 {
		return errors.New("want 1 to 64 characters")
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-@", c)) {
			return errors.New("use letters, digits and . _ - @")
		}
	}
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var req CreateUserRequest
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := validUserName(req.Name); err != nil {
		s.fail(w, r, badInput("name", "%v", err))
		return
	}
	if len(req.DisplayName) > 256 {
		s.fail(w, r, badInput("display_name", "at most 256 bytes"))
		return
	}
	for _, role := range req.Roles {
		if err := validRole(role); err != nil {
			s.fail(w, r, badInput("roles", "%v", err))
			return
		}
	}
	out := CreatedUser{}
	pw := req.Password
	if pw == "" {
		var err error
		if pw, err = newPassword(); err != nil {
			s.fail(w, r, err)
			return
		}
		out.InitialPassword = pw
	} else if err := s.authn.checkPassword(pw); err != nil {
		s.fail(w, r, badInput("password", "%v", err))
		return
	}
	hash, err := auth.HashPassword(pw, s.authn.params)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, _ := PrincipalFrom(r.Context())
	u, err := s.st.CreateUser(r.Context(), p.Actor(), store.User{Name: req.Name, DisplayName: req.DisplayName, Roles: req.Roles, PasswordHash: hash})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out.User = u
	w.Header().Set("Location", "/api/v1/users/"+u.ID)
	writeJSON(w, http.StatusCreated, out)
}

// UpdateUserRequest changes the fields that are present. Password sets a
// new password (an administrator's reset); the user's sessions end.
type UpdateUserRequest struct {
	DisplayName *string   `json:"display_name,omitempty"`
	Roles       *[]string `json:"roles,omitempty"`
	Disabled    *bool     `json:"disabled,omitempty"`
	Password    *string   `json:"password,omitempty"`
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) {
	var req UpdateUserRequest
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	var up store.UserUpdate
	if req.DisplayName != nil {
		if len(*req.DisplayName) > 256 {
			s.fail(w, r, badInput("display_name", "at most 256 bytes"))
			return
		}
		up.DisplayName = req.DisplayName
	}
	if req.Roles != nil {
		for _, role := range *req.Roles {
			if err := validRole(role); err != nil {
				s.fail(w, r, badInput("roles", "%v", err))
				return
			}
		}
		up.Roles = append([]string{}, *req.Roles...)
	}
	up.Disabled = req.Disabled
	if req.Password != nil {
		if err := s.authn.checkPassword(*req.Password); err != nil {
			s.fail(w, r, badInput("password", "%v", err))
			return
		}
		h, err := auth.HashPassword(*req.Password, s.authn.params)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		up.PasswordHash = &h
	}
	before, err := s.st.User(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.keepAnAdmin(ctx, before, up); err != nil {
		s.fail(w, r, err)
		return
	}
	p, _ := PrincipalFrom(ctx)
	u, err := s.st.UpdateUser(ctx, p.Actor(), id, up)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// A disabled user or a reset password ends every session of the
	// user at once (tokens stop working while the user is disabled).
	if (u.Disabled && !before.Disabled) || up.PasswordHash != nil {
		if _, err := s.st.DeleteUserSessions(ctx, u.ID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, u)
}

// keepAnAdmin refuses a change that would leave no enabled administrator:
// nobody could then manage users, sensors or settings.
func (s *Server) keepAnAdmin(ctx context.Context, u store.User, up store.UserUpdate) error {
	wasAdmin := !u.Disabled && slices.Contains(u.Roles, store.RoleAdmin)
	staysAdmin := wasAdmin && (up.Disabled == nil || !*up.Disabled) && (up.Roles == nil || slices.Contains(up.Roles, store.RoleAdmin))
	if !wasAdmin || staysAdmin {
		return nil
	}
	users, err := s.st.ListUsers(ctx)
	if err != nil {
		return err
	}
	for _, o := range users {
		if o.ID != u.ID && !o.Disabled && slices.Contains(o.Roles, store.RoleAdmin) {
			return nil
		}
	}
	return fmt.Errorf("%s is the last enabled administrator; make another one first: %w", u.Name, store.ErrConflict)
}

// Tokens.
var tokenSortKeys = []string{"created", "name", "last_used"}

func tokenKey(t store.Token, k string) string {
	switch k {
	case "name":
		return t.Name
	case "last_used":
		return timeKey(t.LastUsed)
	}
	return timeKey(t.Created)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	pr, _ := PrincipalFrom(r.Context())
	p := newParams(r)
	o := p.listOptions(tokenSortKeys)
	owner := p.str("owner")
	revoked := p.boolean("revoked")
	if err := p.done(); err != nil {
		s.fail(w, r, err)
		return
	}
	// One's own tokens; an administrator may list anyone's ("*": all).
	switch {
	case owner == "":
		owner = pr.User.ID
	case owner != pr.User.ID && !pr.Can(auth.PermUsers):
		writeProblem(w, probForbidden.with(r, "only administrators list other users' tokens"))
		return
	case owner == "*":
		owner = ""
	}
	ts, err := s.st.ListTokens(r.Context(), owner)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if revoked != nil {
		ts = slices.DeleteFunc(ts, func(t store.Token) bool { return t.Revoked.IsZero() == *revoked })
	}
	pg, err := memPage(ts, o, tokenSortKeys, tokenKey, func(t store.Token) string { return t.ID })
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeList(w, r, listOf(pg))
}

// CreateTokenRequest asks for an API token of the caller's.
type CreateTokenRequest struct {
	Name string `json:"name"`
	// ExpiresInDays is the token's lifetime (0: it does not expire).
	ExpiresInDays int `json:"expires_in_days,omitempty"`
}

// CreatedToken carries the token's secret, shown this once.
type CreatedToken struct {
	Token  store.Token `json:"token"`
	Secret string      `json:"secret"`
}

// LogValue keeps the secret out of logs.
func (c CreatedToken) LogValue() slog.Value { return slog.AnyValue(c.Token) }

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req CreateTokenRequest
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 128 {
		s.fail(w, r, badInput("name", "want 1 to 128 characters"))
		return
	}
	if req.ExpiresInDays < 0 || req.ExpiresInDays > 3650 {
		s.fail(w, r, badInput("expires_in_days", "want 0 (never) to 3650"))
		return
	}
	secret, hash, err := auth.NewSecret(auth.TokenPrefix)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, _ := PrincipalFrom(r.Context())
	t := store.Token{Name: req.Name, Owner: p.User.ID, Hash: hash}
	if req.ExpiresInDays > 0 {
		t.Expires = s.now().AddDate(0, 0, req.ExpiresInDays)
	}
	t, err = s.st.CreateToken(r.Context(), p.Actor(), t)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, CreatedToken{Token: t, Secret: secret})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, _ := PrincipalFrom(ctx)
	id := r.PathValue("id")
	// Only one's own token, unless an administrator: another user's token
	// is "not found", so that ids cannot be probed.
	owner := p.User.ID
	if p.Can(auth.PermUsers) {
		owner = ""
	}
	ts, err := s.st.ListTokens(ctx, owner)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !slices.ContainsFunc(ts, func(t store.Token) bool { return t.ID == id }) {
		s.fail(w, r, fmt.Errorf("token %s: %w", id, store.ErrNotFound))
		return
	}
	if err := s.st.RevokeToken(ctx, p.Actor(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Sensors.

// SensorIssuer issues and revokes the credentials sensors publish with.
// The bus implements it (it owns the keys and the broker's permissions);
// the server records sensors in the store and the audit trail.
type SensorIssuer interface {
	// IssueSensor creates credentials for a new sensor.
	IssueSensor(ctx context.Context, name string) (SensorCredential, error)
	// RevokeSensor withdraws a sensor's credentials and disconnects it.
	RevokeSensor(ctx context.Context, name string) error
}

// SensorCredential is what issuing gives: the file the sensor is started
// with (it holds the sensor's secret and is shown once), and a public
// identifier of the credential (an nkey public key) that the store keeps
// hashed.
type SensorCredential struct {
	File     []byte
	FileName string
	PublicID string
}

// LogValue keeps the file (the secret) out of logs.
func (c SensorCredential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("file_name", c.FileName), slog.Int("file_bytes", len(c.File)))
}

var sensorSortKeys = []string{"name", "created", "last_seen"}

func sensorKey(x store.Sensor, k string) string {
	switch k {
	case "created":
		return timeKey(x.Created)
	case "last_seen":
		return timeKey(x.LastSeen)
	}
	return x.Name
}

func (s *Server) listSensors(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	o := p.listOptions(sensorSortKeys)
	revoked := p.boolean("revoked")
	if err := p.done(); err != nil {
		s.fail(w, r, err)
		return
	}
	ss, err := s.st.ListSensors(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if revoked != nil {
		ss = slices.DeleteFunc(ss, func(x store.Sensor) bool { return x.Revoked.IsZero() == *revoked })
	}
	pg, err := memPage(ss, o, sensorSortKeys, sensorKey, func(x store.Sensor) string { return x.Name })
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeList(w, r, listOf(pg))
}

// IssueSensorRequest names a new sensor.
type IssueSensorRequest struct {
	Name string `json:"name"`
}

// IssuedSensor carries the sensor's credentials file, shown this once.
type IssuedSensor struct {
	Sensor      store.Sensor `json:"sensor"`
	FileName    string       `json:"file_name"`
	Credentials string       `json:"credentials"`
}

// LogValue keeps the credentials out of logs.
func (i IssuedSensor) LogValue() slog.Value { return slog.AnyValue(i.Sensor) }

// validSensorName is the bus's rule for sensor names (they are NATS
// subject tokens): 1–64 of a-z, 0-9 and '-', not first.
func validSensorName(n string) error {
	if n == "" || len(n) > 64 {
		return errors.New("want 1 to 64 characters")
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0) {
			return errors.New("use lower-case letters, digits and '-' (not first)")
		}
	}
	return nil
}

func (s *Server) issueSensor(w http.ResponseWriter, r *http.Request) {
	if s.opts.Sensors == nil {
		writeProblem(w, probNotAvailable.with(r, "this node does not run the bus that issues sensor credentials"))
		return
	}
	var req IssueSensorRequest
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := validSensorName(req.Name); err != nil {
		s.fail(w, r, badInput("name", "%v", err))
		return
	}
	ctx := r.Context()
	if _, err := s.st.Sensor(ctx, req.Name); err == nil {
		s.fail(w, r, fmt.Errorf("sensor %q is already registered (names are not reused, even after revocation): %w", req.Name, store.ErrConflict))
		return
	} else if !errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	cred, err := s.opts.Sensors.IssueSensor(ctx, req.Name)
	if err != nil {
		s.fail(w, r, fmt.Errorf("issue credentials for sensor %s: %w", req.Name, err))
		return
	}
	p, _ := PrincipalFrom(ctx)
	sen, err := s.st.CreateSensor(ctx, p.Actor(), store.Sensor{Name: req.Name, CredentialHash: auth.HashSecret(cred.PublicID)})
	if err != nil {
		// Withdraw what the bus issued: a sensor the store does not know
		// must not be able to publish.
		if rerr := s.opts.Sensors.RevokeSensor(context.WithoutCancel(ctx), req.Name); rerr != nil {
			s.log.ErrorContext(ctx, "withdraw sensor credentials after a failed registration", slog.String("sensor", req.Name), slog.Any("err", rerr))
		}
		s.fail(w, r, err)
		return
	}
	name := cred.FileName
	if name == "" {
		name = req.Name + ".creds.json"
	}
	w.Header().Set("Location", "/api/v1/sensors/"+sen.Name)
	writeJSON(w, http.StatusCreated, IssuedSensor{Sensor: sen, FileName: name, Credentials: string(cred.File)})
}

func (s *Server) revokeSensor(w http.ResponseWriter, r *http.Request) {
	if s.opts.Sensors == nil {
		writeProblem(w, probNotAvailable.with(r, "this node does not run the bus that issues sensor credentials"))
		return
	}
	ctx := r.Context()
	name := r.PathValue("name")
	if _, err := s.st.Sensor(ctx, name); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.opts.Sensors.RevokeSensor(ctx, name); err != nil {
		s.fail(w, r, fmt.Errorf("revoke credentials of sensor %s: %w", name, err))
		return
	}
	p, _ := PrincipalFrom(ctx)
	if err := s.st.RevokeSensor(ctx, p.Actor(), name); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Audit trail.

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	q := store.AuditQuery{
		ListOptions: p.listOptions(store.AuditSortKeys),
		Actor:       p.str("actor"),
		ObjectType:  p.str("object_type"),
		ObjectID:    p.str("object_id"),
		Since:       p.time("since"),
		Until:       p.time("until"),
	}
	if err := p.done(); err != nil {
		s.fail(w, r, err)
		return
	}
	if q.Sort.Key == "" {
		q.Sort = store.Sort{Key: "seq"} // a trail reads oldest first
	}
	pg, err := s.st.ListAudit(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeList(w, r, listOf(pg))
}

// AuditVerification is the result of recomputing the audit chain.
type AuditVerification struct {
	OK   bool            `json:"ok"`
	Head store.AuditHead `json:"head"`
	// Seq and Reason say where the chain broke (when not OK).
	Seq    int64  `json:"seq,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request) {
	head, err := s.st.VerifyAudit(r.Context())
	var te *store.TamperError
	switch {
	case errors.As(err, &te):
		writeJSON(w, http.StatusOK, AuditVerification{OK: false, Head: head, Seq: te.Seq, Reason: te.Reason})
	case err != nil:
		s.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, AuditVerification{OK: true, Head: head})
	}
}
