package ui

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
)

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "/",
		"/findings?state=open":          "/findings?state=open",
		"/devices/mac-024d4c00#x":       "/devices/mac-024d4c00#x",
		"//evil.example/":               "/",
		"/\\evil.example":               "/",
		"https://evil.example/":         "/",
		"javascript:alert(1)":           "/",
		"findings":                      "/",
		"/a\r\nSet-Cookie: x=1":         "/",
		"/" + strings.Repeat("a", 2048): "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLocalPath: whatever a form sends as "next", the redirect stays on
// this node.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/findings?state=", "//x", "/\\x", "http://x", "/%2F%2Fx", "/\t/x", "/..//x", "\\\\x", "/#//x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := localPath(p)
		if got == "/" {
			return
		}
		if got != p {
			t.Fatalf("localPath(%q) = %q: a path is kept whole or replaced", p, got)
		}
		u, err := url.Parse(got)
		if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") {
			t.Fatalf("localPath(%q) = %q leaves the node", p, got)
		}
		// What a browser would do with it: resolved against the node,
		// the host stays the node's.
		base, _ := url.Parse("https://node.example/findings")
		if r := base.ResolveReference(u); r.Host != "node.example" {
			t.Fatalf("localPath(%q) = %q resolves to host %q", p, got, r.Host)
		}
	})
}

func TestAlertChartFillsTheTimeAxis(t *testing.T) {
	from := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	h := server.AlertHistogram{From: from, To: from.Add(4 * time.Hour), Bucket: "1h", Buckets: []store.AlertBucket{
		{Start: from.Add(time.Hour), Category: "reconnaissance", Count: 3},
		{Start: from.Add(3 * time.Hour), Category: "brute-force", Count: 5},
		{Start: from.Add(3 * time.Hour), Category: "reconnaissance", Count: 1},
	}}
	got := alertChart(h, time.UTC)
	if want := []string{"11-28 10:00", "11-28 11:00", "11-28 12:00", "11-28 13:00"}; strings.Join(got.Chart.Categories, ",") != strings.Join(want, ",") {
		t.Errorf("axis %v, want %v (empty hours included)", got.Chart.Categories, want)
	}
	// brute-force has more alerts in all (5 against 4), so it is first.
	if len(got.Chart.Series) != 2 || got.Chart.Series[0].Name != "brute-force" {
		t.Fatalf("series %+v", got.Chart.Series)
	}
	if d := got.Chart.Series[0].Data; d[0] != 0 || d[1] != 0 || d[2] != 0 || d[3] != 5 {
		t.Errorf("brute-force per hour %v, want [0 0 0 5]", d)
	}
	if d := got.Chart.Series[1].Data; d[1] != 3 || d[3] != 1 {
		t.Errorf("reconnaissance per hour %v, want 3 at 11:00 and 1 at 13:00", d)
	}
	if got.Total != 9 || got.Rows[0].Start != from.Add(3*time.Hour) || got.Rows[0].Count != 5 {
		t.Errorf("total %d, first row %+v: want 9, the newest and largest first", got.Total, got.Rows[0])
	}
}

func TestGroupAlerts(t *testing.T) {
	ip := func(s string) event.Endpoint { return event.Endpoint{IP: netip.MustParseAddr(s)} }
	t0 := time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)
	items := []event.Alert{
		{ID: "a", Rule: "port-scan", Category: "reconnaissance", Severity: "medium", Source: ip("10.0.0.9"), Start: t0, Count: 10},
		{ID: "b", Rule: "ftp-brute-force", Category: "brute-force", Severity: "high", Source: ip("10.0.0.9"), Start: t0.Add(time.Minute), Count: 4},
		{ID: "c", Rule: "host-sweep", Category: "reconnaissance", Severity: "low", Source: ip("10.0.0.7"), Start: t0.Add(2 * time.Minute), Count: 1},
	}
	g := groupAlerts(items, "category", url.Values{"severity": {"high"}})
	if len(g) != 2 || g[0].Key != "brute-force" || g[1].Key != "reconnaissance" {
		t.Fatalf("groups %+v: want brute-force (high) before reconnaissance (medium)", g)
	}
	if g[1].Alerts != 2 || g[1].Events != 11 || g[1].Severity != "medium" || !g[1].Latest.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("reconnaissance group %+v", g[1])
	}
	if g[1].Link != "/alerts?category=reconnaissance&group=none&severity=high" {
		t.Errorf("group link %q keeps the other filters and selects the group", g[1].Link)
	}
	src := groupAlerts(items, "source", nil)
	if len(src) != 2 || src[0].Key != "10.0.0.9" || src[0].Alerts != 2 || !strings.Contains(src[0].Link, "ip=10.0.0.9") {
		t.Errorf("by source %+v", src)
	}
}

func TestSortColumns(t *testing.T) {
	cols := sortColumns(url.Values{"band": {"high"}, "cursor": {"abc"}}, "", "-risk", []column{{Key: "name"}, {Key: "risk", Numeric: true}})
	if cols[1].Sort != "descending" || cols[1].Link != "?band=high&sort=risk" {
		t.Errorf("default sort: risk %+v, want descending with a link to ascending", cols[1])
	}
	if cols[0].Sort != "" || cols[0].Link != "?band=high&sort=name" {
		t.Errorf("name %+v, want unsorted with a link to ascending, cursor dropped", cols[0])
	}
}

func TestNum(t *testing.T) {
	for _, c := range []struct {
		x    float64
		d    int
		want string
	}{{90.6, 1, "90.6"}, {90.0, 1, "90"}, {0.0449, 3, "0.045"}, {-0.0001, 2, "0"}, {12, 0, "12"}} {
		if got := num(c.x, c.d); got != c.want {
			t.Errorf("num(%v, %d) = %q, want %q", c.x, c.d, got, c.want)
		}
	}
}
