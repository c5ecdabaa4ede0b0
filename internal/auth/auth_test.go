package auth

import (
	"strings"
	"testing"
	"time"
)

// cheap keeps tests fast; the cost parameters are what they are, the
// algorithm is the same.
var cheap = Params{Time: 1, Memory: 64, Threads: 1, KeyLen: 32, SaltLen: 16}

func TestPasswordHashing(t *testing.T) {
	h, err := HashPassword("correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := VerifyPassword(h, "correct horse"); !ok || err != nil {
		t.Fatalf("right password refused: %v", err)
	}
	if ok, _ := VerifyPassword(h, "correct horsE"); ok {
		t.Fatal("wrong password accepted")
	}
	h2, _ := HashPassword("correct horse", cheap)
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !NeedsRehash(h, DefaultParams) || NeedsRehash(h, cheap) {
		t.Fatal("NeedsRehash")
	}
	if _, err := HashPassword(strings.Repeat("x", 2000), cheap); err != ErrPasswordTooLong {
		t.Fatalf("long password: %v", err)
	}
	if _, err := HashPassword("x", Params{Time: 1, Memory: 64, Threads: 1, KeyLen: 4, SaltLen: 16}); err == nil {
		t.Fatal("weak parameters accepted")
	}
}

func TestStoredHashBounds(t *testing.T) {
	for _, bad := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5", // 4 GiB
		"$argon2id$v=19$m=64,t=100000,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1,x=2$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5",
	} {
		if ok, err := VerifyPassword(bad, "x"); ok || err == nil {
			t.Errorf("%q: accepted (%v)", bad, err)
		}
	}
}

func TestSecrets(t *testing.T) {
	s, h, err := NewSecret(TokenPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if !WellFormed(s, TokenPrefix) || WellFormed(s, SessionPrefix) || WellFormed(s+"a", TokenPrefix) {
		t.Fatalf("WellFormed(%q)", s)
	}
	other := s[:len(s)-1] + "a"
	if s[len(s)-1] == 'a' {
		other = s[:len(s)-1] + "b"
	}
	if !SecretMatches(s, h) || SecretMatches(other, h) || strings.Contains(h, s) {
		t.Fatal("SecretMatches")
	}
	s2, _, _ := NewSecret(TokenPrefix)
	if s2 == s {
		t.Fatal("two secrets are equal")
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter(3, time.Minute, 2)
	t0 := time.Unix(0, 0)
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("10.0.0.1", t0); !ok {
			t.Fatalf("attempt %d refused", i)
		}
	}
	ok, wait := l.Allow("10.0.0.1", t0)
	if ok || wait != time.Minute {
		t.Fatalf("fourth attempt: %v, wait %v", ok, wait)
	}
	if ok, _ := l.Allow("10.0.0.1", t0.Add(time.Minute)); !ok {
		t.Fatal("not refilled after a minute")
	}
	// Other keys are independent; the table stays bounded.
	l.Allow("a", t0.Add(2*time.Minute))
	l.Allow("b", t0.Add(3*time.Minute))
	if len(l.keys) > 2 {
		t.Fatalf("%d keys kept", len(l.keys))
	}
}

func TestRoles(t *testing.T) {
	cases := []struct {
		r    Role
		p    Permission
		want bool
	}{
		{RoleAdmin, PermUsers, true}, {RoleAnalyst, PermTriage, true}, {RoleAnalyst, PermUsers, false},
		{RoleViewer, PermRead, true}, {RoleViewer, PermTriage, false}, {RoleAuditor, PermAudit, true},
		{RoleAuditor, PermTriage, false}, {RoleDPO, PermPrivacy, true}, {RoleDPO, PermSettings, false},
		{Role("root"), PermRead, false}, {RoleAdmin, Permission("everything"), false},
	}
	for _, c := range cases {
		if got := Allowed(c.r, c.p); got != c.want {
			t.Errorf("Allowed(%s, %s) = %v", c.r, c.p, got)
		}
	}
	if _, err := ParseRole("superuser"); err == nil {
		t.Error("ParseRole accepted an unknown role")
	}
}

func FuzzVerifyPassword(f *testing.F) {
	h, _ := HashPassword("pw", cheap)
	f.Add(h, "pw")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$", "")
	f.Fuzz(func(t *testing.T, stored, pw string) {
		// Never panics, never accepts a string it could not parse.
		ok, err := VerifyPassword(stored, pw)
		if ok && err != nil {
			t.Fatal("accepted with an error")
		}
	})
}
