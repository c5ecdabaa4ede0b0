package httpproto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/proto"
)

// fakeInspector flags the word EVIL wherever it sees it and records what
// it was shown (copied, as a real inspector must not keep the slices).
type fakeInspector struct {
	calls []RawRequest
	kept  []byte // a slice kept against the rules, to show it is wiped
}

func (f *fakeInspector) InspectRequest(c *proto.Conn, r *RawRequest, dst []Attack) []Attack {
	cp := RawRequest{Method: r.Method, BodyOnly: r.BodyOnly,
		Target: bytes.Clone(r.Target), Head: bytes.Clone(r.Head), ContentType: bytes.Clone(r.ContentType), Body: bytes.Clone(r.Body)}
	f.calls = append(f.calls, cp)
	if r.BodyOnly {
		f.kept = r.Body
	}
	if bytes.Contains(r.Target, []byte("EVIL")) {
		dst = append(dst, Attack{Class: "sqli", Rule: "test-target", Where: "query", Param: "id"})
	}
	if bytes.Contains(r.Body, []byte("EVIL")) {
		dst = append(dst, Attack{Class: "xss", Rule: "test-body", Where: "body", Param: "comment"})
		// A duplicate verdict is dropped by the session.
		dst = append(dst, Attack{Class: "xss", Rule: "test-body", Where: "body", Param: "comment"})
	}
	return dst
}

func playInspected(t *testing.T, steps []step, cut func(i int, data string) []int) (*fakeInspector, *sink) {
	t.Helper()
	in := &fakeInspector{}
	out := &sink{}
	f := &feeder{t: t, s: New(nil, WithInspector(in)).New(testConn(), out)}
	for i, st := range steps {
		prev := 0
		var cuts []int
		if cut != nil {
			cuts = cut(i, st.data)
		}
		for _, k := range cuts {
			if k > prev && k < len(st.data) {
				f.feed(st.dir, []byte(st.data[prev:k]))
				prev = k
			}
		}
		f.feed(st.dir, []byte(st.data[prev:]))
	}
	f.end()
	return in, out
}

func TestInspectorSeesRawRequest(t *testing.T) {
	req := "POST /search?id=1%27%20EVIL&x=2 HTTP/1.1\r\nHost: pm\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 17\r\n\r\ncomment=EVIL+text"
	in, out := playInspected(t, []step{
		{proto.ToServer, req},
		{proto.ToClient, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
	}, nil)
	if len(in.calls) != 1 {
		t.Fatalf("%d calls, want 1", len(in.calls))
	}
	c := in.calls[0]
	if string(c.Target) != "/search?id=1%27%20EVIL&x=2" || c.Method != "POST" || c.BodyOnly {
		t.Errorf("call %+v", c)
	}
	if !strings.HasPrefix(string(c.Head), "POST /search") || !strings.HasSuffix(string(c.Head), "Content-Length: 17\r\n\r\n") {
		t.Errorf("head %q", c.Head)
	}
	if string(c.Body) != "comment=EVIL+text" || string(c.ContentType) != "application/x-www-form-urlencoded" {
		t.Errorf("body %q type %q", c.Body, c.ContentType)
	}
	rs := requests(out.obs)
	if len(rs) != 1 {
		t.Fatalf("%d requests", len(rs))
	}
	want := []Attack{{"sqli", "test-target", "query", "id"}, {"xss", "test-body", "body", "comment"}}
	if fmt.Sprint(rs[0].Attacks) != fmt.Sprint(want) {
		t.Errorf("attacks %+v, want %+v", rs[0].Attacks, want)
	}
	// The observation carries verdicts, never the values.
	js, _ := json.Marshal(out.obs)
	if bytes.Contains(js, []byte("EVIL")) || bytes.Contains(js, []byte("%27")) {
		t.Errorf("a value leaked into the observations: %s", js)
	}
}

// A body that arrives after its head is given to a second, body-only
// call; the request observation waits for it and carries both verdicts,
// whatever the segmentation.
func TestInspectorBodyLater(t *testing.T) {
	head := "POST /form?q=EVIL HTTP/1.1\r\nHost: pm\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n"
	steps := []step{
		{proto.ToServer, head + "hello EVIL!!"},
		{proto.ToClient, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
	}
	var ref string
	for cutAt := 1; cutAt < len(steps[0].data); cutAt++ {
		in, out := playInspected(t, steps, func(i int, data string) []int {
			if i == 0 {
				return []int{cutAt}
			}
			return nil
		})
		rs := requests(out.obs)
		if len(rs) != 1 {
			t.Fatalf("cut %d: %d requests", cutAt, len(rs))
		}
		got := fmt.Sprint(rs[0].Attacks)
		if ref == "" {
			ref = got
		}
		if got != ref || !strings.Contains(got, "test-body") || !strings.Contains(got, "test-target") {
			t.Fatalf("cut %d: attacks %s, want %s with both verdicts", cutAt, got, ref)
		}
		if cutAt == len(head) {
			if len(in.calls) != 2 || !in.calls[1].BodyOnly || string(in.calls[1].Body) != "hello EVIL!!" ||
				in.calls[1].Target != nil || string(in.calls[1].ContentType) != "text/plain" {
				t.Fatalf("calls %+v", in.calls)
			}
			// The collected body is wiped once inspected: a kept slice
			// holds nothing of it.
			if bytes.Contains(in.kept, []byte("EVIL")) {
				t.Errorf("body buffer not wiped: %q", in.kept)
			}
		}
	}
}

func TestInspectorChunkedBody(t *testing.T) {
	req := "POST /api HTTP/1.1\r\nHost: pm\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked("name=EVIL&x=1", 4)
	in, out := playInspected(t, []step{{proto.ToServer, req}, {proto.ToClient, "HTTP/1.1 204 No Content\r\n\r\n"}}, nil)
	if len(in.calls) != 2 || string(in.calls[1].Body) != "name=EVIL&x=1" {
		t.Fatalf("calls %+v", in.calls)
	}
	if rs := requests(out.obs); len(rs) != 1 || len(rs[0].Attacks) != 1 || rs[0].Attacks[0].Rule != "test-body" {
		t.Fatalf("requests %+v", rs)
	}
}

// A request with an attack is reported even beyond the per-flow bound.
func TestInspectorBeyondBound(t *testing.T) {
	var b strings.Builder
	for i := 0; i < maxReports+5; i++ {
		b.WriteString("GET /ok HTTP/1.1\r\nHost: pm\r\n\r\n")
	}
	b.WriteString("GET /x?id=EVIL HTTP/1.1\r\nHost: pm\r\n\r\n")
	_, out := playInspected(t, []step{{proto.ToServer, b.String()}}, nil)
	rs := requests(out.obs)
	last := rs[len(rs)-1]
	if len(rs) != maxReports+1 || len(last.Attacks) != 1 || last.Seq != maxReports+6 {
		t.Fatalf("%d requests, last %+v", len(rs), last)
	}
}

// Without an inspector nothing changes: the same conversation gives the
// same observations as before the hook existed.
func TestNoInspectorUnchanged(t *testing.T) {
	steps := conversation()
	_, plain := play(t, nil, steps, nil)
	in, inspected := playInspected(t, steps, nil)
	if len(in.calls) == 0 {
		t.Fatal("inspector not called")
	}
	if a, b := canon(t, plain.obs), canon(t, inspected.obs); a != b {
		t.Errorf("an inspector that finds nothing changed the observations:\n%s\n---\n%s", a, b)
	}
}

// FuzzSessionInspected: with an inspector, cutting the same bytes
// differently gives the same observations and verdicts, the inspector is
// never shown more than its bounds, and values never reach the output.
func FuzzSessionInspected(f *testing.F) {
	f.Add(encodeScript([]byte("POST /search?id=1%27EVIL HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nq=EVIL&a=GET /x?EVIL HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n"),
		[]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")), uint64(3))
	for i, s := range realStreams(f) {
		f.Add(encodeScript(s[0], s[1]), uint64(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		recs := decodeScript(data)
		run := func(cut bool) (*fakeInspector, *sink) {
			in := &fakeInspector{}
			out := &sink{}
			fd := &feeder{t: t, s: New(nil, WithInspector(in)).New(testConn(), out)}
			rng := rand.New(rand.NewPCG(seed, seed>>7))
			for _, r := range recs {
				d := r.data
				for len(d) > 0 {
					k := len(d)
					if cut {
						k = 1 + rng.IntN(min(len(d), 64))
					}
					fd.feed(r.dir, d[:k])
					d = d[k:]
				}
			}
			fd.end()
			return in, out
		}
		win, wout := run(false)
		_, cout := run(true)
		if w, c := canon(t, wout.obs), canon(t, cout.obs); w != c {
			t.Fatalf("cutting changed the result:\nwhole %s\ncut   %s", w, c)
		}
		for _, c := range win.calls {
			if len(c.Body) > sniffSize || len(c.Head) > maxHeaderBlock+8 {
				t.Fatalf("inspector shown %d body / %d head bytes", len(c.Body), len(c.Head))
			}
		}
		for _, r := range requests(wout.obs) {
			if len(r.Attacks) > maxAttacks {
				t.Fatalf("%d attacks", len(r.Attacks))
			}
		}
	})
}
