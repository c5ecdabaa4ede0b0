package backend

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

func TestParse(t *testing.T) {
	good := map[string]Target{
		"sqlite:///var/lib/heir":       {Kind: SQLite, Dir: "/var/lib/heir"},
		"sqlite://data":                {Kind: SQLite, Dir: "data"},
		"sqlite:data":                  {Kind: SQLite, Dir: "data"},
		"/var/lib/heir":                {Kind: SQLite, Dir: "/var/lib/heir"},
		"./data":                       {Kind: SQLite, Dir: "./data"},
		"data/heir:2":                  {Kind: SQLite, Dir: "data/heir:2"},
		"postgres://heir@db:5432/heir": {Kind: Postgres, URL: "postgres://heir@db:5432/heir"},
		"postgresql://heir:pw@db/heir?sslmode=allow": {Kind: Postgres, URL: "postgresql://heir:pw@db/heir?sslmode=allow"},
	}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "sqlite:", "sqlite://", "mysql://db/heir", "postgre:/db", "postgres://", "postgres:///heir",
		"sqlite:data?mode=ro", "data#1", strings.Repeat("a", 5000)} {
		if _, err := Parse(in); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Parse(%q): %v, want ErrInvalid", in, err)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, in := range []string{"postgres://heir:s3cret@db/heir", "postgres://heir@db/heir?password=s3cret"} {
		tg, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if s := tg.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "db") {
			t.Errorf("%q shown as %q", in, s)
		}
		if v := tg.LogValue().String(); strings.Contains(v, "s3cret") {
			t.Errorf("%q logged as %q", in, v)
		}
	}
	if _, err := Parse("mysql://heir:s3cret@db/heir"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.UpsertAsset(ctx, event.Asset{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Asset(ctx, "a"); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"sqlite:///var/lib/heir", "sqlite:data", "/var/lib/heir", "postgres://heir:pw@db:5432/heir?sslmode=disable",
		"postgresql://[::1]:5432/heir", "mysql://x", "c:/data", "postgres://%zz", "sqlite://?x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tg, err := Parse(in)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		switch tg.Kind {
		case SQLite:
			if tg.Dir == "" || tg.URL != "" || strings.ContainsAny(tg.Dir, "?#") {
				t.Fatalf("%q parsed as %+v", in, tg)
			}
		case Postgres:
			if tg.URL != in || tg.Dir != "" {
				t.Fatalf("%q parsed as %+v", in, tg)
			}
		default:
			t.Fatalf("%q parsed as kind %q", in, tg.Kind)
		}
		_ = tg.String()
	})
}
