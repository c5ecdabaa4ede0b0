package dicom

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/proto"
)

// labSeeds are client and server streams of lab associations (echo,
// store, reject, find, get), cut to a few KiB, under testdata/fuzz/lab.
func labSeeds(f *testing.F) [][2][]byte {
	f.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "fuzz", "lab", "*.client"))
	if err != nil || len(names) == 0 {
		f.Fatalf("no lab seeds: %v", err)
	}
	var out [][2][]byte
	for _, n := range names {
		c, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		s, err := os.ReadFile(strings.TrimSuffix(n, ".client") + ".server")
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, [2][]byte{c, s})
	}
	return out
}

// splitPDUs cuts a stream into its PDUs (the last may be partial).
func splitPDUs(b []byte, max int) [][]byte {
	var out [][]byte
	for len(b) >= 6 && len(out) < max {
		n := 6 + int(binary.BigEndian.Uint32(b[2:6]))
		if n > len(b) || n < 6 {
			n = len(b)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func builtSegments() [][2][]byte {
	var c, s []byte
	for _, sg := range storeAssociation(2000) {
		if sg.dir == proto.ToServer {
			c = append(c, sg.data...)
		} else {
			s = append(s, sg.data...)
		}
	}
	return [][2][]byte{{c, s}}
}

// FuzzPDU checks the PDU, command-set and data-set parsers on one PDU.
func FuzzPDU(f *testing.F) {
	for _, cs := range append(labSeeds(f), builtSegments()...) {
		for _, side := range cs {
			for _, p := range splitPDUs(side, 12) {
				if len(p) > 4096 {
					p = p[:4096]
				}
				f.Add(p)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		probe(b)
		if len(b) < 6 {
			return
		}
		body := b[6:]
		if l := binary.BigEndian.Uint32(b[2:6]); uint64(l) < uint64(len(body)) {
			body = body[:l]
		}
		switch b[0] {
		case pduAssociateRQ, pduAssociateAC:
			a, _ := parseAssociate(body, b[0] == pduAssociateAC)
			if a != nil {
				checkAssociation(t, a)
			}
		case pduAssociateRJ:
			parseReject(body)
		case pduAbort:
			parseAbort(body)
		case pduPData:
			for len(body) >= pdvHeader {
				l := int(binary.BigEndian.Uint32(body[0:4]))
				if l < 2 || l > len(body)-4 {
					break
				}
				v := body[pdvHeader : 4+l]
				if body[5]&mchCommand != 0 {
					parseCommand(v)
				} else {
					for syn := synUnknown; syn <= synDeflated; syn++ {
						checkScan(t, syn, v)
					}
				}
				body = body[4+l:]
			}
		}
	})
}

func checkAssociation(t *testing.T, a *Association) {
	if len(a.Contexts) > maxContexts {
		t.Fatalf("%d contexts kept", len(a.Contexts))
	}
	strs := []string{a.CallingAE, a.CalledAE, a.ApplicationContext, a.ImplementationClassUID, a.ImplementationVersion, a.UserIdentity}
	for _, pc := range a.Contexts {
		if len(pc.TransferSyntaxes) > maxSyntaxes {
			t.Fatalf("%d transfer syntaxes kept", len(pc.TransferSyntaxes))
		}
		strs = append(strs, pc.AbstractSyntax, pc.TransferSyntax)
		strs = append(strs, pc.TransferSyntaxes...)
	}
	for _, s := range strs {
		if len(s) > maxUID {
			t.Fatalf("string of %d bytes kept", len(s))
		}
		for _, c := range []byte(s) {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("unprintable byte %#x kept in %q", c, s)
			}
		}
	}
}

// checkScan scans v whole and in small pieces: the results must agree.
func checkScan(t *testing.T, syn syntax, v []byte) {
	a := scanAll(syn, v, 0)
	b := scanAll(syn, v, 3)
	if a.found != b.found || a.wild != b.wild || a.note != b.note || a.level != b.level {
		t.Fatalf("syntax %d: whole %+v, chunked %+v", syn, a, b)
	}
	if a.found>>len(identifyingTags) != 0 || a.wild>>len(identifyingTags) != 0 {
		t.Fatalf("bits outside the table: %x %x", a.found, a.wild)
	}
}

// FuzzSession feeds both directions of a flow through a session in random
// chunks, with random capture gaps, as the flow engine would.
func FuzzSession(f *testing.F) {
	for _, cs := range append(labSeeds(f), builtSegments()...) {
		for _, seed := range []uint64{0, 1, 42} {
			f.Add(cs[0], cs[1], seed)
		}
	}
	f.Fuzz(func(t *testing.T, client, server []byte, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		out := &sink{}
		s := New().New(testConn(), out)
		fd := newFeeder(t, s)
		fd.maxHeld = 8 << 10
		streams := [2][]byte{client, server}
		for step := 0; step < 100000 && len(streams[0])+len(streams[1]) > 0; step++ {
			dir := proto.Dir(rng.IntN(2))
			if len(streams[dir]) == 0 {
				dir = dir.Reverse()
			}
			d := streams[dir]
			n := 1 + rng.IntN(min(len(d), 3000))
			if rng.IntN(64) == 0 {
				// Lose n bytes.
				fd.gap(dir, n)
			} else {
				fd.feed(dir, d[:n])
			}
			streams[dir] = d[n:]
		}
		s.End(proto.Meta{})
		for _, o := range out.obs {
			if o.Kind == "" || o.Proto != Name {
				t.Fatalf("observation %+v", o)
			}
			if _, err := json.Marshal(o); err != nil {
				t.Fatalf("marshal %s: %v", o.Kind, err)
			}
		}
		if ss, ok := s.(*session); ok {
			for _, st := range ss.dirs {
				if cap(st.cmd) > 2*maxCommand+4096 {
					t.Fatalf("command buffer grew to %d", cap(st.cmd))
				}
			}
		}
	})
}
