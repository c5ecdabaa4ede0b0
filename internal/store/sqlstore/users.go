package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/store"
)

// maxName bounds user, token and sensor names and hashes.
const maxName = 256

func checkName(kind, v string) error {
	if v == "" || len(v) > maxName {
		return fmt.Errorf("%s of %d bytes (want 1 to %d): %w", kind, len(v), maxName, store.ErrInvalid)
	}
	return nil
}

func checkRoles(roles []string) ([]string, error) {
	out := slices.Clone(roles)
	for _, r := range out {
		if !slices.Contains(store.Roles, r) {
			return nil, fmt.Errorf("role %q (want one of %s): %w", r, strings.Join(store.Roles, ", "), store.ErrInvalid)
		}
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// userDoc is what the audit trail records of a user: never the hash.
func userDoc(u store.User, passwordChanged bool) json.RawMessage {
	m := map[string]any{"id": u.ID, "name": u.Name, "display_name": u.DisplayName, "roles": u.Roles, "disabled": u.Disabled}
	if passwordChanged {
		m["password_changed"] = true
	}
	b, _ := json.Marshal(m) // strings, bools and a string slice always encode
	return b
}

// CreateUser adds a local user.
func (db *DB) CreateUser(ctx context.Context, actor string, u store.User) (store.User, error) {
	if err := checkName("user name", u.Name); err != nil {
		return u, err
	}
	if err := checkName("actor", actor); err != nil {
		return u, err
	}
	roles, err := checkRoles(u.Roles)
	if err != nil {
		return u, err
	}
	u.Roles = roles
	if u.ID == "" {
		u.ID = newID()
	}
	u.Created = fromUS(us(db.now()))
	u.Updated = u.Created
	err = db.inTx(ctx, func(c conn) error {
		n, err := c.affected(ctx, `INSERT INTO users (id, name, display_name, password_hash, disabled, created_us, updated_us)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			u.ID, u.Name, u.DisplayName, u.PasswordHash, boolInt(u.Disabled), us(u.Created), us(u.Updated))
		if err != nil {
			return fmt.Errorf("create user %s: %w", u.Name, err)
		}
		if n == 0 {
			return fmt.Errorf("user %q: %w", u.Name, store.ErrConflict)
		}
		if err := setRoles(ctx, c, u.ID, u.Roles); err != nil {
			return err
		}
		_, err = appendAudit(ctx, c, store.AuditEntry{Actor: actor, Action: "user.create", ObjectType: "user", ObjectID: u.ID, After: userDoc(u, false)})
		return err
	})
	return u, err
}

func setRoles(ctx context.Context, c conn, id string, roles []string) error {
	if _, err := c.exec(ctx, `DELETE FROM user_roles WHERE user_id = ?`, id); err != nil {
		return fmt.Errorf("set roles of user %s: %w", id, err)
	}
	for _, r := range roles {
		if _, err := c.exec(ctx, `INSERT INTO user_roles (user_id, role) VALUES (?, ?)`, id, r); err != nil {
			return fmt.Errorf("set roles of user %s: %w", id, err)
		}
	}
	return nil
}

const userSelect = `SELECT id, name, display_name, password_hash, disabled, created_us, updated_us FROM users`

func readUser(ctx context.Context, c conn, where string, arg any, lock bool) (store.User, error) {
	q := userSelect + ` WHERE ` + where
	if lock {
		q += c.db.d.ForUpdate
	}
	var u store.User
	var disabled, created, updated int64
	err := c.row(ctx, q, arg).Scan(&u.ID, &u.Name, &u.DisplayName, &u.PasswordHash, &disabled, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("user", fmt.Sprint(arg))
	}
	if err != nil {
		return u, fmt.Errorf("read user %v: %w", arg, err)
	}
	u.Disabled, u.Created, u.Updated = disabled != 0, fromUS(created), fromUS(updated)
	u.Roles, err = readRoles(ctx, c, u.ID)
	return u, err
}

func readRoles(ctx context.Context, c conn, id string) ([]string, error) {
	rows, err := c.query(ctx, `SELECT role FROM user_roles WHERE user_id = ? ORDER BY role`, id)
	if err != nil {
		return nil, fmt.Errorf("read roles of user %s: %w", id, err)
	}
	defer rows.Close()
	roles := []string{}
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("read roles of user %s: %w", id, err)
		}
		roles = append(roles, r)
	}
	return roles, wrapErr(rows.Err(), "read roles of user %s", id)
}

// User returns a user by id.
func (db *DB) User(ctx context.Context, id string) (store.User, error) {
	return readUser(ctx, db.reader(), "id = ?", id, false)
}

// UserByName returns a user by login name.
func (db *DB) UserByName(ctx context.Context, name string) (store.User, error) {
	return readUser(ctx, db.reader(), "name = ?", name, false)
}

// ListUsers lists every user by name (a node has tens, not thousands).
func (db *DB) ListUsers(ctx context.Context) ([]store.User, error) {
	c := db.reader()
	rows, err := c.query(ctx, userSelect+` ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	var out []store.User
	for rows.Next() {
		var u store.User
		var disabled, created, updated int64
		if err := rows.Scan(&u.ID, &u.Name, &u.DisplayName, &u.PasswordHash, &disabled, &created, &updated); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list users: %w", err)
		}
		u.Disabled, u.Created, u.Updated = disabled != 0, fromUS(created), fromUS(updated)
		out = append(out, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	for i := range out {
		if out[i].Roles, err = readRoles(ctx, c, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// UpdateUser changes a user's fields.
func (db *DB) UpdateUser(ctx context.Context, actor, id string, up store.UserUpdate) (store.User, error) {
	if err := checkName("actor", actor); err != nil {
		return store.User{}, err
	}
	var roles []string
	if up.Roles != nil {
		var err error
		if roles, err = checkRoles(up.Roles); err != nil {
			return store.User{}, err
		}
	}
	var out store.User
	err := db.inTx(ctx, func(c conn) error {
		u, err := readUser(ctx, c, "id = ?", id, true)
		if err != nil {
			return err
		}
		before := userDoc(u, false)
		if up.DisplayName != nil {
			u.DisplayName = *up.DisplayName
		}
		if up.Disabled != nil {
			u.Disabled = *up.Disabled
		}
		pw := up.PasswordHash != nil && *up.PasswordHash != u.PasswordHash
		if up.PasswordHash != nil {
			u.PasswordHash = *up.PasswordHash
		}
		if up.Roles != nil {
			u.Roles = roles
			if err := setRoles(ctx, c, u.ID, roles); err != nil {
				return err
			}
		}
		if string(userDoc(u, pw)) == string(before) && !pw {
			out = u
			return nil
		}
		u.Updated = fromUS(us(db.now()))
		if _, err := c.exec(ctx, `UPDATE users SET display_name = ?, password_hash = ?, disabled = ?, updated_us = ? WHERE id = ?`,
			u.DisplayName, u.PasswordHash, boolInt(u.Disabled), us(u.Updated), u.ID); err != nil {
			return fmt.Errorf("update user %s: %w", id, err)
		}
		if _, err := appendAudit(ctx, c, store.AuditEntry{Actor: actor, Action: "user.update", ObjectType: "user", ObjectID: u.ID,
			Before: before, After: userDoc(u, pw)}); err != nil {
			return err
		}
		out = u
		return nil
	})
	return out, err
}

// CreateSession stores a new session.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	if err := checkName("session id", s.ID); err != nil {
		return err
	}
	return db.inTx(ctx, func(c conn) error {
		if _, err := readUser(ctx, c, "id = ?", s.UserID, false); err != nil {
			return err
		}
		n, err := c.affected(ctx, `INSERT INTO sessions (id, user_id, created_us, expires_us, last_seen_us) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, s.ID, s.UserID, us(s.Created), us(s.Expires), us(s.LastSeen))
		if err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("session: %w", store.ErrConflict)
		}
		return nil
	})
}

// Session returns a session that has not expired at now.
func (db *DB) Session(ctx context.Context, id string, now time.Time) (store.Session, error) {
	s := store.Session{ID: id}
	var created, expires, last int64
	err := db.reader().row(ctx, `SELECT user_id, created_us, expires_us, last_seen_us FROM sessions WHERE id = ? AND expires_us > ?`,
		id, us(now)).Scan(&s.UserID, &created, &expires, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("session: %w", store.ErrNotFound) // the id is a secret: not in the message
	}
	if err != nil {
		return s, fmt.Errorf("read session: %w", err)
	}
	s.Created, s.Expires, s.LastSeen = fromUS(created), fromUS(expires), fromUS(last)
	return s, nil
}

// TouchSession records activity and moves the expiry.
func (db *DB) TouchSession(ctx context.Context, id string, lastSeen, expires time.Time) error {
	return db.inTx(ctx, func(c conn) error {
		n, err := c.affected(ctx, `UPDATE sessions SET last_seen_us = ?, expires_us = ? WHERE id = ?`, us(lastSeen), us(expires), id)
		if err != nil {
			return fmt.Errorf("touch session: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("session: %w", store.ErrNotFound)
		}
		return nil
	})
}

// DeleteSession ends a session; ending one that is gone is not an error.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `DELETE FROM sessions WHERE id = ?`, id)
		return wrapErr(err, "delete session")
	})
}

// DeleteUserSessions ends every session of a user.
func (db *DB) DeleteUserSessions(ctx context.Context, userID string) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(c conn) error {
		var err error
		n, err = c.affected(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
		return wrapErr(err, "delete sessions of user %s", userID)
	})
	return n, err
}

// PruneSessions deletes sessions expired at now.
func (db *DB) PruneSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(c conn) error {
		var err error
		n, err = c.affected(ctx, `DELETE FROM sessions WHERE expires_us <= ?`, us(now))
		return wrapErr(err, "prune sessions")
	})
	return n, err
}

func tokenDoc(t store.Token) json.RawMessage {
	b, _ := json.Marshal(t) // the hash is not marshalled (json:"-")
	return b
}

// CreateToken stores a new API token (by its hash).
func (db *DB) CreateToken(ctx context.Context, actor string, t store.Token) (store.Token, error) {
	for _, f := range [][2]string{{"token name", t.Name}, {"token owner", t.Owner}, {"token hash", t.Hash}, {"actor", actor}} {
		if err := checkName(f[0], f[1]); err != nil {
			return t, err
		}
	}
	if t.ID == "" {
		t.ID = newID()
	}
	t.Created = fromUS(us(db.now()))
	t.Expires, t.LastUsed, t.Revoked = fromUS(us(t.Expires)), time.Time{}, time.Time{}
	err := db.inTx(ctx, func(c conn) error {
		if _, err := readUser(ctx, c, "id = ?", t.Owner, false); err != nil {
			return err
		}
		n, err := c.affected(ctx, `INSERT INTO tokens (id, name, owner, hash, created_us, last_used_us, expires_us, revoked_us)
			VALUES (?, ?, ?, ?, ?, 0, ?, 0) ON CONFLICT DO NOTHING`, t.ID, t.Name, t.Owner, t.Hash, us(t.Created), us(t.Expires))
		if err != nil {
			return fmt.Errorf("create token %s: %w", t.Name, err)
		}
		if n == 0 {
			return fmt.Errorf("token %q: %w", t.Name, store.ErrConflict)
		}
		_, err = appendAudit(ctx, c, store.AuditEntry{Actor: actor, Action: "token.create", ObjectType: "token", ObjectID: t.ID, After: tokenDoc(t)})
		return err
	})
	return t, err
}

const tokenSelect = `SELECT id, name, owner, hash, created_us, last_used_us, expires_us, revoked_us FROM tokens`

func scanToken(row interface{ Scan(...any) error }) (store.Token, error) {
	var t store.Token
	var created, used, expires, revoked int64
	if err := row.Scan(&t.ID, &t.Name, &t.Owner, &t.Hash, &created, &used, &expires, &revoked); err != nil {
		return t, err
	}
	t.Created, t.LastUsed, t.Expires, t.Revoked = fromUS(created), fromUS(used), fromUS(expires), fromUS(revoked)
	return t, nil
}

// TokenByHash finds a live token by its hash.
func (db *DB) TokenByHash(ctx context.Context, hash string, now time.Time) (store.Token, error) {
	t, err := scanToken(db.reader().row(ctx, tokenSelect+` WHERE hash = ? AND revoked_us = 0 AND (expires_us = 0 OR expires_us > ?)`, hash, us(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	return t, wrapErr(err, "read token")
}

// ListTokens lists a user's tokens ("" lists everyone's), revoked ones
// included.
func (db *DB) ListTokens(ctx context.Context, owner string) ([]store.Token, error) {
	q, args := tokenSelect+` ORDER BY created_us, id`, []any{}
	if owner != "" {
		q, args = tokenSelect+` WHERE owner = ? ORDER BY created_us, id`, []any{owner}
	}
	rows, err := db.reader().query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, wrapErr(rows.Err(), "list tokens")
}

// TouchToken records a use; it never moves LastUsed backwards.
func (db *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `UPDATE tokens SET last_used_us = ? WHERE id = ? AND last_used_us < ?`, us(at), id, us(at))
		return wrapErr(err, "touch token %s", id)
	})
}

// RevokeToken revokes a token; revoking a revoked token changes nothing.
func (db *DB) RevokeToken(ctx context.Context, actor, id string) error {
	if err := checkName("actor", actor); err != nil {
		return err
	}
	return db.inTx(ctx, func(c conn) error {
		t, err := scanToken(c.row(ctx, tokenSelect+` WHERE id = ?`+db.d.ForUpdate, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("token", id)
		}
		if err != nil {
			return fmt.Errorf("read token %s: %w", id, err)
		}
		if !t.Revoked.IsZero() {
			return nil
		}
		before := tokenDoc(t)
		t.Revoked = fromUS(us(db.now()))
		if _, err := c.exec(ctx, `UPDATE tokens SET revoked_us = ? WHERE id = ?`, us(t.Revoked), id); err != nil {
			return fmt.Errorf("revoke token %s: %w", id, err)
		}
		_, err = appendAudit(ctx, c, store.AuditEntry{Actor: actor, Action: "token.revoke", ObjectType: "token", ObjectID: id, Before: before, After: tokenDoc(t)})
		return err
	})
}

func sensorDoc(s store.Sensor) json.RawMessage {
	b, _ := json.Marshal(s) // the credential hash is not marshalled (json:"-")
	return b
}

// CreateSensor registers a sensor.
func (db *DB) CreateSensor(ctx context.Context, actor string, s store.Sensor) (store.Sensor, error) {
	for _, f := range [][2]string{{"sensor name", s.Name}, {"sensor credential hash", s.CredentialHash}, {"actor", actor}} {
		if err := checkName(f[0], f[1]); err != nil {
			return s, err
		}
	}
	s.Created, s.LastSeen, s.Revoked = fromUS(us(db.now())), time.Time{}, time.Time{}
	err := db.inTx(ctx, func(c conn) error {
		n, err := c.affected(ctx, `INSERT INTO sensors (name, credential_hash, created_us, last_seen_us, revoked_us) VALUES (?, ?, ?, 0, 0)
			ON CONFLICT DO NOTHING`, s.Name, s.CredentialHash, us(s.Created))
		if err != nil {
			return fmt.Errorf("create sensor %s: %w", s.Name, err)
		}
		if n == 0 {
			return fmt.Errorf("sensor %q: %w", s.Name, store.ErrConflict)
		}
		_, err = appendAudit(ctx, c, store.AuditEntry{Actor: actor, Action: "sensor.create", ObjectType: "sensor", ObjectID: s.Name, After: sensorDoc(s)})
		return err
	})
	return s, err
}

const sensorSelect = `SELECT name, credential_hash, created_us, last_seen_us, revoked_us FROM sensors`

func scanSensor(row interface{ Scan(...any) error }) (store.Sensor, error) {
	var s store.Sensor
	var created, seen, revoked int64
	if err := row.Scan(&s.Name, &s.CredentialHash, &created, &seen, &revoked); err != nil {
		return s, err
	}
	s.Created, s.LastSeen, s.Revoked = fromUS(created), fromUS(seen), fromUS(revoked)
	return s, nil
}

// Sensor returns a sensor, revoked or not (the caller checks Revoked).
func (db *DB) Sensor(ctx context.Context, name string) (store.Sensor, error) {
	s, err := scanSensor(db.reader().row(ctx, sensorSelect+` WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return s, notFound("sensor", name)
	}
	return s, wrapErr(err, "read sensor %s", name)
}

// ListSensors lists every sensor by name.
func (db *DB) ListSensors(ctx context.Context) ([]store.Sensor, error) {
	rows, err := db.reader().query(ctx, sensorSelect+` ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list sensors: %w", err)
	}
	defer rows.Close()
	var out []store.Sensor
	for rows.Next() {
		s, err := scanSensor(rows)
		if err != nil {
			return nil, fmt.Errorf("list sensors: %w", err)
		}
		out = append(out, s)
	}
	return out, wrapErr(rows.Err(), "list sensors")
}

// TouchSensor records that a sensor published; never backwards.
func (db *DB) TouchSensor(ctx context.Context, name string, at time.Time) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `UPDATE sensors SET last_seen_us = ? WHERE name = ? AND last_seen_us < ?`, us(at), name, us(at))
		return wrapErr(err, "touch sensor %s", name)
	})
}

// RevokeSensor revokes a sensor's credential.
func (db *DB) RevokeSensor(ctx context.Context, actor, name string) error {
	if err := checkName("actor", actor); err != nil {
		return err
	}
	return db.inTx(ctx, func(c conn) error {
		s, err := scanSensor(c.row(ctx, sensorSelect+` WHERE name = ?`+db.d.ForUpdate, name))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("sensor", name)
		}
		if err != nil {
			return fmt.Errorf("read sensor %s: %w", name, err)
		}
		if !s.Revoked.IsZero() {
			return nil
		}
		before := sensorDoc(s)
		s.Revoked = fromUS(us(db.now()))
		if _, err := c.exec(ctx, `UPDATE sensors SET revoked_us = ? WHERE name = ?`, us(s.Revoked), name); err != nil {
			return fmt.Errorf("revoke sensor %s: %w", name, err)
		}
		_, err = appendAudit(ctx, c, store.AuditEntry{Actor: actor, Action: "sensor.revoke", ObjectType: "sensor", ObjectID: name, Before: before, After: sensorDoc(s)})
		return err
	})
}
