package dicom

import (
	"testing"

	"github.com/heir-emd/heir/internal/proto"
)

func TestProbe(t *testing.T) {
	rq := associateRQ("CT", "PACS", []rqCtx{{1, uidVerification, []string{uidImplicitLE}}}, userInfo("1.2", "V", 16384))
	ac := associateAC("CT", "PACS", []acCtx{{1, 0, uidImplicitLE}}, userInfo("1.3", "W", 16384))
	echo := pdata(pdv{1, 3, echoRQ(1)})
	echoRsp := pdata(pdv{1, 3, rsp(0x8030, uidVerification, 1, 0, false)})
	data := pdata(pdv{3, 0, make([]byte, 100)})
	badVersion := append([]byte(nil), rq...)
	badVersion[7] = 0
	badAE := append([]byte(nil), rq...)
	badAE[12] = 0x01
	badItem := append([]byte(nil), rq...)
	badItem[74] = 0x99
	evenCtx := pdata(pdv{2, 3, echoRQ(1)})
	noGroupLength := pdata(pdv{1, 3, implicitLE(us(tagCommandField, cEchoRQ), us(tagMessageID, 1))})
	cases := []struct {
		name string
		dir  proto.Dir
		data []byte
		want proto.Verdict
	}{
		{"rq from client", proto.ToServer, rq, proto.Yes},
		{"rq from the guessed server", proto.ToClient, rq, proto.YesReversed},
		{"ac from server", proto.ToClient, ac, proto.Yes},
		{"server-first ac", proto.ToServer, ac, proto.YesReversed},
		{"rj from server", proto.ToClient, rejectPDU(1, 1, 7), proto.Yes},
		{"rj from guessed client", proto.ToServer, rejectPDU(1, 1, 7), proto.YesReversed},
		{"abort", proto.ToServer, abortPDU(0, 0), proto.Yes},
		{"release rq", proto.ToServer, releasePDU(pduReleaseRQ), proto.Yes},
		{"release rp from guessed client", proto.ToServer, releasePDU(pduReleaseRP), proto.YesReversed},
		{"mid-stream command rq", proto.ToServer, echo, proto.Yes},
		{"mid-stream command rsp from guessed client", proto.ToServer, echoRsp, proto.YesReversed},
		{"mid-stream data pdv", proto.ToServer, data, proto.Yes},
		{"rq header only", proto.ToServer, rq[:6], proto.Unsure},
		{"rq up to AE titles", proto.ToServer, rq[:42], proto.Unsure},
		{"one byte", proto.ToServer, rq[:1], proto.Unsure},
		{"empty", proto.ToServer, nil, proto.Unsure},
		{"command pdv cut", proto.ToServer, echo[:14], proto.Unsure},
		{"bad version", proto.ToServer, badVersion, proto.No},
		{"control char in AE", proto.ToServer, badAE, proto.No},
		{"unknown first item", proto.ToServer, badItem, proto.No},
		{"even context id", proto.ToServer, evenCtx, proto.No},
		{"command without group length", proto.ToServer, noGroupLength, proto.No},
		{"rq too long", proto.ToServer, []byte{1, 0, 0, 2, 0, 0, 0, 1}, proto.No},
		{"rq too short", proto.ToServer, []byte{1, 0, 0, 0, 0, 10, 0, 1}, proto.No},
		{"rj wrong length", proto.ToClient, []byte{3, 0, 0, 0, 0, 5, 0, 1, 1, 7, 0}, proto.No},
		{"abort bad source", proto.ToClient, []byte{7, 0, 0, 0, 0, 4, 0, 0, 1, 0}, proto.No},
		{"release with data", proto.ToClient, []byte{6, 0, 0, 0, 0, 4, 1, 0, 0, 0}, proto.No},
		{"pdv longer than pdu", proto.ToServer, []byte{4, 0, 0, 0, 0, 10, 0, 0, 0, 20, 1, 3}, proto.No},
		{"http", proto.ToServer, []byte("GET / HTTP/1.1\r\n\r\n"), proto.No},
		{"tls", proto.ToServer, []byte{0x16, 3, 1, 0, 0x50, 1}, proto.No},
		{"crlf", proto.ToServer, []byte("\r\n\r\n"), proto.No},
		{"tpkt", proto.ToServer, []byte{3, 0, 0, 0x2a, 0x25, 0xe0, 0, 0, 0, 0, 0}, proto.No},
		{"smb", proto.ToServer, []byte{0, 0, 0, 0xa4, 0xff, 'S', 'M', 'B'}, proto.No},
		{"second byte set", proto.ToServer, []byte{1, 1}, proto.No},
	}
	d := New()
	c := testConn()
	for _, tc := range cases {
		if got := d.Probe(c, tc.dir, tc.data); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if d.Name() != "dicom" || d.Transport() != proto.TCP || len(d.Ports()) != 3 {
		t.Errorf("dissector identity %s %v %v", d.Name(), d.Transport(), d.Ports())
	}
}
