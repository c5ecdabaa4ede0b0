package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/store"
)

const (
	hashAlice = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$YWxpY2UtaGFzaA"
	hashNew   = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$bmV3LWhhc2g"
)

// auditMentions says whether any audit record's text holds s (secrets
// must never reach the trail).
func auditMentions(t *testing.T, s store.Store, secret string) bool {
	t.Helper()
	p, err := s.ListAudit(context.Background(), store.AuditQuery{ListOptions: store.ListOptions{Limit: store.MaxLimit}})
	must(t, err)
	for _, r := range p.Items {
		b, err := json.Marshal(r)
		must(t, err)
		if strings.Contains(string(b), secret) {
			return true
		}
	}
	return false
}

func auditActions(t *testing.T, s store.Store) []string {
	t.Helper()
	p, err := s.ListAudit(context.Background(), store.AuditQuery{ListOptions: store.ListOptions{Sort: store.Sort{Key: "seq"}, Limit: store.MaxLimit}})
	must(t, err)
	var out []string
	for _, r := range p.Items {
		out = append(out, r.Action+" "+r.ObjectID+" by "+r.Actor)
	}
	return out
}

func testUsers(t *testing.T, b Backend) {
	ctx := context.Background()
	s, clock := open(t, b)
	u, err := s.CreateUser(ctx, "root", store.User{Name: "alice", DisplayName: "Alice A.", Roles: []string{store.RoleViewer, store.RoleAnalyst, store.RoleViewer}, PasswordHash: hashAlice})
	must(t, err)
	if u.ID == "" || !u.Created.Equal(t0) || !slices.Equal(u.Roles, []string{"analyst", "viewer"}) {
		t.Errorf("created user %+v", u)
	}
	for _, get := range []func() (store.User, error){
		func() (store.User, error) { return s.User(ctx, u.ID) },
		func() (store.User, error) { return s.UserByName(ctx, "alice") },
	} {
		got, err := get()
		must(t, err)
		if got.ID != u.ID || got.Name != "alice" || got.DisplayName != "Alice A." || got.PasswordHash != hashAlice ||
			!slices.Equal(got.Roles, []string{"analyst", "viewer"}) || got.Disabled || !got.Created.Equal(t0) {
			t.Errorf("read user %+v", got)
		}
	}
	_, err = s.CreateUser(ctx, "root", store.User{Name: "alice"})
	wantErr(t, err, store.ErrConflict)
	_, err = s.CreateUser(ctx, "root", store.User{Name: "eve", Roles: []string{"superuser"}})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.CreateUser(ctx, "root", store.User{Name: ""})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.UserByName(ctx, "eve")
	wantErr(t, err, store.ErrNotFound)

	clock.Set(at(1))
	disabled, pw, name := true, hashNew, "Alice B."
	got, err := s.UpdateUser(ctx, "root", u.ID, store.UserUpdate{Roles: []string{store.RoleAdmin, store.RoleDPO}, Disabled: &disabled, PasswordHash: &pw, DisplayName: &name})
	must(t, err)
	if !slices.Equal(got.Roles, []string{"admin", "dpo"}) || !got.Disabled || got.PasswordHash != hashNew || got.DisplayName != "Alice B." || !got.Updated.Equal(at(1)) {
		t.Errorf("updated user %+v", got)
	}
	got, err = s.User(ctx, u.ID)
	must(t, err)
	if !slices.Equal(got.Roles, []string{"admin", "dpo"}) || !got.Disabled || got.PasswordHash != hashNew {
		t.Errorf("re-read updated user %+v", got)
	}
	// Unset fields stay, and a change that changes nothing is not one.
	got, err = s.UpdateUser(ctx, "root", u.ID, store.UserUpdate{})
	must(t, err)
	if !slices.Equal(got.Roles, []string{"admin", "dpo"}) || got.DisplayName != "Alice B." {
		t.Errorf("empty update changed %+v", got)
	}
	_, err = s.UpdateUser(ctx, "root", "nobody", store.UserUpdate{})
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UpdateUser(ctx, "root", u.ID, store.UserUpdate{Roles: []string{"god"}})
	wantErr(t, err, store.ErrInvalid)

	_, err = s.CreateUser(ctx, "root", store.User{Name: "bob", Roles: []string{store.RoleAuditor}})
	must(t, err)
	all, err := s.ListUsers(ctx)
	must(t, err)
	if len(all) != 2 || all[0].Name != "alice" || all[1].Name != "bob" || !slices.Equal(all[1].Roles, []string{"auditor"}) {
		t.Errorf("users %+v", all)
	}
	sameIDs(t, "audit of user changes", auditActions(t, s), []string{
		"user.create " + u.ID + " by root", "user.update " + u.ID + " by root", "user.create " + all[1].ID + " by root"})
	if auditMentions(t, s, "YWxpY2UtaGFzaA") || auditMentions(t, s, "bmV3LWhhc2g") {
		t.Error("a password hash reached the audit trail")
	}
	p, err := s.ListAudit(ctx, store.AuditQuery{ObjectID: u.ID, ListOptions: store.ListOptions{Sort: store.Sort{Key: "seq"}}})
	must(t, err)
	var after map[string]any
	must(t, json.Unmarshal(p.Items[1].After, &after))
	if after["password_changed"] != true || after["disabled"] != true {
		t.Errorf("audit of the update says %v", after)
	}
}

func testSessions(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	u, err := s.CreateUser(ctx, "root", store.User{Name: "alice", Roles: []string{store.RoleViewer}})
	must(t, err)
	wantErr(t, s.CreateSession(ctx, store.Session{ID: "sx", UserID: "nobody", Created: t0, Expires: at(1)}), store.ErrNotFound)
	must(t, s.CreateSession(ctx, store.Session{ID: "s1", UserID: u.ID, Created: t0, Expires: at(1), LastSeen: t0}))
	must(t, s.CreateSession(ctx, store.Session{ID: "s2", UserID: u.ID, Created: t0, Expires: at(2), LastSeen: t0}))
	wantErr(t, s.CreateSession(ctx, store.Session{ID: "s1", UserID: u.ID, Created: t0, Expires: at(1)}), store.ErrConflict)

	got, err := s.Session(ctx, "s1", at(0.5))
	must(t, err)
	if got.UserID != u.ID || !got.Created.Equal(t0) || !got.Expires.Equal(at(1)) {
		t.Errorf("session %+v", got)
	}
	_, err = s.Session(ctx, "s1", at(1))
	wantErr(t, err, store.ErrNotFound)
	must(t, s.TouchSession(ctx, "s1", at(0.9), at(3)))
	got, err = s.Session(ctx, "s1", at(2))
	must(t, err)
	if !got.LastSeen.Equal(at(0.9)) || !got.Expires.Equal(at(3)) {
		t.Errorf("touched session %+v", got)
	}
	wantErr(t, s.TouchSession(ctx, "nope", at(1), at(2)), store.ErrNotFound)

	n, err := s.PruneSessions(ctx, at(2.5))
	must(t, err)
	if n != 1 {
		t.Errorf("pruned %d sessions, want 1 (s2)", n)
	}
	must(t, s.CreateSession(ctx, store.Session{ID: "s3", UserID: u.ID, Created: t0, Expires: at(9)}))
	must(t, s.DeleteSession(ctx, "s3"))
	must(t, s.DeleteSession(ctx, "s3"))
	_, err = s.Session(ctx, "s3", t0)
	wantErr(t, err, store.ErrNotFound)
	must(t, s.CreateSession(ctx, store.Session{ID: "s4", UserID: u.ID, Created: t0, Expires: at(9)}))
	n, err = s.DeleteUserSessions(ctx, u.ID)
	must(t, err)
	if n != 2 {
		t.Errorf("deleted %d sessions of the user, want 2 (s1, s4)", n)
	}
}

func testTokens(t *testing.T, b Backend) {
	ctx := context.Background()
	s, clock := open(t, b)
	u, err := s.CreateUser(ctx, "root", store.User{Name: "alice", Roles: []string{store.RoleAnalyst}})
	must(t, err)
	_, err = s.CreateToken(ctx, "alice", store.Token{Name: "ci", Owner: "nobody", Hash: "h0"})
	wantErr(t, err, store.ErrNotFound)
	t1, err := s.CreateToken(ctx, "alice", store.Token{Name: "ci", Owner: u.ID, Hash: "sha256-token-one"})
	must(t, err)
	clock.Set(at(0.1)) // tokens list by creation time
	t2, err := s.CreateToken(ctx, "alice", store.Token{Name: "script", Owner: u.ID, Hash: "sha256-token-two", Expires: at(2)})
	must(t, err)
	if t1.ID == "" || t1.ID == t2.ID || !t1.Created.Equal(t0) {
		t.Errorf("tokens %+v %+v", t1, t2)
	}
	_, err = s.CreateToken(ctx, "alice", store.Token{Name: "dup", Owner: u.ID, Hash: "sha256-token-one"})
	wantErr(t, err, store.ErrConflict)

	got, err := s.TokenByHash(ctx, "sha256-token-one", at(100))
	must(t, err)
	if got.ID != t1.ID || got.Name != "ci" || got.Owner != u.ID {
		t.Errorf("token by hash %+v", got)
	}
	_, err = s.TokenByHash(ctx, "sha256-token-two", at(1))
	must(t, err)
	_, err = s.TokenByHash(ctx, "sha256-token-two", at(2))
	wantErr(t, err, store.ErrNotFound)
	_, err = s.TokenByHash(ctx, "unknown", t0)
	wantErr(t, err, store.ErrNotFound)

	must(t, s.TouchToken(ctx, t1.ID, at(3)))
	must(t, s.TouchToken(ctx, t1.ID, at(1)))
	clock.Set(at(4))
	must(t, s.RevokeToken(ctx, "root", t1.ID))
	must(t, s.RevokeToken(ctx, "root", t1.ID))
	wantErr(t, s.RevokeToken(ctx, "root", "nope"), store.ErrNotFound)
	_, err = s.TokenByHash(ctx, "sha256-token-one", at(5))
	wantErr(t, err, store.ErrNotFound)
	list, err := s.ListTokens(ctx, u.ID)
	must(t, err)
	if len(list) != 2 || list[0].ID != t1.ID || !list[0].LastUsed.Equal(at(3)) || !list[0].Revoked.Equal(at(4)) || !list[1].Revoked.IsZero() {
		t.Errorf("tokens of alice %+v", list)
	}
	sameIDs(t, "audit of token changes", auditActions(t, s), []string{
		"user.create " + u.ID + " by root", "token.create " + t1.ID + " by alice", "token.create " + t2.ID + " by alice", "token.revoke " + t1.ID + " by root"})
	if auditMentions(t, s, "sha256-token") {
		t.Error("a token hash reached the audit trail")
	}
}

func testSensors(t *testing.T, b Backend) {
	ctx := context.Background()
	s, clock := open(t, b)
	sn, err := s.CreateSensor(ctx, "root", store.Sensor{Name: "icu-sensor", CredentialHash: "cred-hash-1"})
	must(t, err)
	if !sn.Created.Equal(t0) {
		t.Errorf("sensor %+v", sn)
	}
	_, err = s.CreateSensor(ctx, "root", store.Sensor{Name: "icu-sensor", CredentialHash: "other"})
	wantErr(t, err, store.ErrConflict)
	_, err = s.CreateSensor(ctx, "root", store.Sensor{Name: "no-cred"})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.CreateSensor(ctx, "root", store.Sensor{Name: "lab-sensor", CredentialHash: "cred-hash-2"})
	must(t, err)
	must(t, s.TouchSensor(ctx, "icu-sensor", at(2)))
	must(t, s.TouchSensor(ctx, "icu-sensor", at(1)))
	clock.Set(at(3))
	must(t, s.RevokeSensor(ctx, "root", "lab-sensor"))
	wantErr(t, s.RevokeSensor(ctx, "root", "nope"), store.ErrNotFound)
	got, err := s.Sensor(ctx, "icu-sensor")
	must(t, err)
	if got.CredentialHash != "cred-hash-1" || !got.LastSeen.Equal(at(2)) || !got.Revoked.IsZero() {
		t.Errorf("sensor %+v", got)
	}
	all, err := s.ListSensors(ctx)
	must(t, err)
	if len(all) != 2 || all[0].Name != "icu-sensor" || all[1].Name != "lab-sensor" || !all[1].Revoked.Equal(at(3)) {
		t.Errorf("sensors %+v", all)
	}
	_, err = s.Sensor(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	sameIDs(t, "audit of sensor changes", auditActions(t, s), []string{
		"sensor.create icu-sensor by root", "sensor.create lab-sensor by root", "sensor.revoke lab-sensor by root"})
	if auditMentions(t, s, "cred-hash") {
		t.Error("a sensor credential hash reached the audit trail")
	}
}

func testScores(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	day := func(d int) store.Score {
		return store.Score{Kind: store.ScoreHospital, Subject: "st-mary", Day: t0.AddDate(0, 0, d), Score: 40 + d, Band: store.BandMedium,
			Breakdown: json.RawMessage(fmt.Sprintf(`{"worst":%d,"share_high":0.25}`, 80+d))}
	}
	for d := range 5 {
		must(t, s.PutScore(ctx, day(d)))
	}
	// A later run on the same day replaces it; the time of day is ignored.
	again := day(2)
	again.Day = again.Day.Add(7 * 3600e9)
	again.Score, again.Band = 75, store.BandHigh
	must(t, s.PutScore(ctx, again))
	must(t, s.PutScore(ctx, store.Score{Kind: store.ScoreDevice, Subject: "st-mary", Day: t0, Score: 1, Band: store.BandLow}))

	got, err := s.ScoreTrend(ctx, store.ScoreHospital, "st-mary", t0.AddDate(0, 0, 1), t0.AddDate(0, 0, 3))
	must(t, err)
	want := []string{"2026-11-29 41 medium {\"worst\":81,\"share_high\":0.25}", "2026-11-30 75 high {\"worst\":82,\"share_high\":0.25}", "2026-12-01 43 medium {\"worst\":83,\"share_high\":0.25}"}
	var gotS []string
	for _, sc := range got {
		if sc.Kind != store.ScoreHospital || sc.Subject != "st-mary" || sc.Day.Location() != time.UTC || sc.Day.Hour() != 0 {
			t.Errorf("score %+v", sc)
		}
		gotS = append(gotS, fmt.Sprintf("%s %d %s %s", sc.Day.Format("2006-01-02"), sc.Score, sc.Band, sc.Breakdown))
	}
	sameIDs(t, "hospital trend", gotS, want)
	got, err = s.ScoreTrend(ctx, store.ScoreDevice, "st-mary", t0.AddDate(0, 0, -30), t0)
	must(t, err)
	if len(got) != 1 || got[0].Score != 1 || got[0].Breakdown != nil {
		t.Errorf("device trend %+v", got)
	}
	_, err = s.ScoreTrend(ctx, store.ScoreHospital, "st-mary", t0, t0.AddDate(0, 0, -1))
	wantErr(t, err, store.ErrInvalid)

	for name, bad := range map[string]store.Score{
		"over 100":     {Kind: store.ScoreDevice, Subject: "x", Day: t0, Score: 101, Band: store.BandCritical},
		"negative":     {Kind: store.ScoreDevice, Subject: "x", Day: t0, Score: -1, Band: store.BandLow},
		"band":         {Kind: store.ScoreDevice, Subject: "x", Day: t0, Score: 10, Band: "severe"},
		"kind":         {Kind: "ward", Subject: "x", Day: t0, Score: 10, Band: store.BandLow},
		"subject":      {Kind: store.ScoreDevice, Day: t0, Score: 10, Band: store.BandLow},
		"day":          {Kind: store.ScoreDevice, Subject: "x", Score: 10, Band: store.BandLow},
		"breakdown":    {Kind: store.ScoreDevice, Subject: "x", Day: t0, Score: 10, Band: store.BandLow, Breakdown: json.RawMessage(`{"a":`)},
		"no band none": {Kind: store.ScoreDevice, Subject: "x", Day: t0, Score: 10, Band: store.BandNone},
	} {
		if err := s.PutScore(ctx, bad); err == nil {
			t.Errorf("score %s accepted", name)
		} else {
			wantErr(t, err, store.ErrInvalid)
		}
	}
}
