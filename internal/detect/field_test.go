package detect

import (
	"testing"
	"time"
)

type innerDetail struct {
	C string `json:"c"`
}

type testDetail struct {
	A      int               `json:"a"`
	B      innerDetail       `json:"b"`
	BP     *innerDetail      `json:"bp,omitempty"`
	L      []innerDetail     `json:"l"`
	S      []string          `json:"s"`
	M      map[string]uint64 `json:"m"`
	T      time.Time         `json:"t"`
	Hidden string            `json:"-"`
	NoTag  bool
}

// Rules read detail fields by their wire names, through structs, pointers,
// maps and lists.
func TestDetailFields(t *testing.T) {
	rc := newReflectCache()
	d := &testDetail{A: 7, B: innerDetail{"x"}, L: []innerDetail{{"p"}, {"q"}}, S: []string{"u", "v"},
		M: map[string]uint64{"c-store-rq": 3}, T: t0, Hidden: "secret", NoTag: true}
	cases := []struct {
		path string
		want string
	}{
		{"a", "7"}, {"b.c", "x"}, {"bp.c", ""}, {"l.c", "p,q"}, {"s", "u,v"}, {"m.c-store-rq", "3"},
		{"m.nothing", ""}, {"t", "2026-11-28T15:00:00Z"}, {"Hidden", ""}, {"-", ""}, {"NoTag", "true"}, {"nope", ""}, {"a.b", ""},
	}
	for _, c := range cases {
		got := rc.get(d, splitPath(c.path))
		if got.text() != c.want {
			t.Errorf("%s = %q (%v), want %q", c.path, got.text(), got.k, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { rc.get(d, []string{"b", "c"}) }); n > 0 {
		t.Errorf("scalar path allocates %v", n)
	}
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '.' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return out
}
