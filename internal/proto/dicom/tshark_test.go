package dicom

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/testenv"
)

// decoded is what one decoder saw on one connection, per direction (keyed
// by the sender "ip:port"): associations and DIMSE messages, in order.
type decoded map[string]map[string][]string

func (d decoded) add(conn, sender, item string) {
	if d[conn] == nil {
		d[conn] = map[string][]string{}
	}
	d[conn][sender] = append(d[conn][sender], item)
}

func connKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + " " + b
}

// TestTsharkCrossCheck decodes the lab capture with tshark's DICOM
// dissector on every port where heir found DICOM, and compares, connection
// by connection and direction by direction, the associations (calling and
// called AE titles, accepted or rejected) and the DIMSE messages (command,
// SOP class, status).
func TestTsharkCrossCheck(t *testing.T) {
	tshark := testenv.Tool(t, "tshark")
	res, _ := labRun(t)
	pcap := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")

	ports := map[uint16]bool{}
	for _, f := range res.Flows {
		if f.Proto == Name {
			ports[f.Server.Port] = true
		}
	}
	if len(ports) == 0 {
		t.Fatal("heir found no DICOM flow in the lab capture")
	}
	args := []string{"-r", pcap, "-o", "dicom.tag_tree:TRUE", "-Y", "dicom", "-T", "pdml"}
	for p := range ports {
		args = append(args, "-d", fmt.Sprintf("tcp.port==%d,dicom", p))
	}
	var stderr bytes.Buffer
	cmd := exec.Command(tshark, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
	}
	want, err := parsePDML(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("parse tshark PDML: %v", err)
	}
	got := heirDecoded(res.Observations)

	nAssoc, nDIMSE := 0, 0
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	diffs := 0
	for _, k := range sorted {
		senders := map[string]bool{}
		for s := range want[k] {
			senders[s] = true
		}
		for s := range got[k] {
			senders[s] = true
		}
		for s := range senders {
			w, g := want[k][s], got[k][s]
			for _, x := range w {
				if strings.HasPrefix(x, "assoc ") {
					nAssoc++
				} else {
					nDIMSE++
				}
			}
			if strings.Join(w, "\n") != strings.Join(g, "\n") {
				diffs++
				if diffs <= 10 {
					t.Errorf("connection %s, sent by %s:\n tshark: %v\n heir:   %v", k, s, w, g)
				}
			}
		}
	}
	if diffs > 10 {
		t.Errorf("%d differing directions in all", diffs)
	}
	if nAssoc == 0 || nDIMSE == 0 {
		t.Errorf("tshark decoded %d association items and %d DIMSE messages: nothing compared", nAssoc, nDIMSE)
	}
	t.Logf("compared %d association items and %d DIMSE messages on %d connections (ports %v)", nAssoc, nDIMSE, len(sorted), ports)
}

// heirDecoded reduces heir's observations to the compared items.
func heirDecoded(obs []*event.Observation) decoded {
	d := decoded{}
	for _, o := range obs {
		if o.Proto != Name {
			continue
		}
		src := fmt.Sprintf("%s:%d", o.Src.IP, o.Src.Port)
		dst := fmt.Sprintf("%s:%d", o.Dst.IP, o.Dst.Port)
		k := connKey(src, dst)
		switch det := o.Detail.(type) {
		case *Association:
			if o.Kind == "associate-rq" {
				d.add(k, src, "assoc rq "+det.CallingAE+" -> "+det.CalledAE)
			} else {
				d.add(k, src, "assoc accept "+det.CallingAE+" <- "+det.CalledAE)
			}
		case *Reject:
			d.add(k, src, "assoc reject "+det.CallingAE+" <- "+det.CalledAE)
		case *Message:
			d.add(k, src, dimseItem(det.Command, det.SOPClass, det.Status))
		}
	}
	return d
}

func dimseItem(cmd, sop, status string) string {
	return "dimse " + cmd + " " + sop + " " + status
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// pdmlState is the walk through tshark's PDML: the packet's addresses, the
// DICOM PDU being read and, inside it, the command PDV being read.
type pdmlState struct {
	d                          decoded
	ipSrc, ipDst, sport, dport string
	inDicom                    bool
	pduType                    string
	calling, called            string
	// AE titles of each connection's last A-ASSOCIATE-RQ, which an
	// A-ASSOCIATE-RJ does not repeat.
	rq map[string][2]string
	// The command PDV: its current tag and the values kept.
	inCmd                 bool
	tag                   string
	cmdField, sop, status string
}

func (p *pdmlState) ends() (src, conn string) {
	src = p.ipSrc + ":" + p.sport
	return src, connKey(src, p.ipDst+":"+p.dport)
}

// flushPDV records the command PDV just read, if it held a command set.
func (p *pdmlState) flushPDV() {
	if p.inCmd && p.cmdField != "" {
		src, k := p.ends()
		// tshark's own name of the command ("Value: C-STORE-RQ"), so that
		// a wrong name table in heir cannot agree with itself.
		name := strings.TrimPrefix(p.cmdField, "Value: ")
		st := ""
		if v, err := strconv.ParseUint(p.status, 10, 16); err == nil {
			st = hex16(uint16(v))
		}
		p.d.add(k, src, dimseItem(name, p.sop, st))
	}
	p.inCmd, p.tag, p.cmdField, p.sop, p.status = false, "", "", "", ""
}

// endPDU records the association items of the DICOM PDU just read.
func (p *pdmlState) endPDU() {
	p.flushPDV()
	src, k := p.ends()
	switch p.pduType {
	case "0x01":
		p.rq[k] = [2]string{p.calling, p.called}
		p.d.add(k, src, "assoc rq "+p.calling+" -> "+p.called)
	case "0x02":
		p.d.add(k, src, "assoc accept "+p.calling+" <- "+p.called)
	case "0x03":
		ae := p.rq[k]
		p.d.add(k, src, "assoc reject "+ae[0]+" <- "+ae[1])
	}
	p.inDicom, p.pduType, p.calling, p.called = false, "", "", ""
}

func (p *pdmlState) field(name, show, showname string) {
	switch name {
	case "ip.src":
		p.ipSrc = show
	case "ip.dst":
		p.ipDst = show
	case "tcp.srcport":
		p.sport = show
	case "tcp.dstport":
		p.dport = show
	}
	if !p.inDicom {
		return
	}
	switch name {
	case "dicom.pdu.type":
		p.pduType = show
	case "dicom.assoc.ae.calling":
		p.calling = strings.TrimSpace(show)
	case "dicom.assoc.ae.called":
		p.called = strings.TrimSpace(show)
	case "dicom.pdv.len":
		p.flushPDV()
	case "dicom.pdv.flags":
		v, err := strconv.ParseUint(strings.TrimPrefix(show, "0x"), 16, 8)
		p.inCmd = err == nil && v&mchCommand != 0 && v&mchLast != 0
	case "dicom.tag":
		p.tag = show
	case "dicom.tag.value.16u":
		switch p.tag {
		case "0x00000100":
			p.cmdField = showname
		case "0x00000900":
			p.status = show
		}
	case "dicom.tag.value.str":
		// "1.2.840.10008.1.1 (Verification SOP Class)"
		if p.tag == "0x00000002" || (p.tag == "0x00000003" && p.sop == "") {
			p.sop, _, _ = strings.Cut(show, " ")
		}
	}
}

// parsePDML walks tshark's PDML in document order.
func parsePDML(r io.Reader) (decoded, error) {
	p := &pdmlState{d: decoded{}, rq: map[string][2]string{}}
	dec := xml.NewDecoder(r)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return p.d, nil
		}
		if err != nil {
			return nil, err
		}
		switch e := tok.(type) {
		case xml.StartElement:
			switch e.Name.Local {
			case "packet":
				p.ipSrc, p.ipDst, p.sport, p.dport = "", "", "", ""
			case "proto":
				if attr(e, "name") == "dicom" {
					p.inDicom = true
				}
			case "field":
				p.field(attr(e, "name"), attr(e, "show"), attr(e, "showname"))
			}
		case xml.EndElement:
			if e.Name.Local == "proto" && p.inDicom {
				p.endPDU()
			}
		}
	}
}
