// Package dhcp dissects DHCPv4 (BOOTP with the DHCP magic cookie, UDP 67
// and 68). DHCP is the richest passive source of device identity on a
// hospital LAN: a client names itself (option 12), its DHCP software (option
// 60) and, through the order of the options it asks for (option 55), its
// operating system. Messages are decoded with gopacket's DHCPv4 layer; the
// package depends only on proto, event and gopacket.
package dhcp

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// Name is the protocol name carried in observations.
const Name = "dhcp"

// bootpHeaderLen is the fixed BOOTP header plus the magic cookie.
const bootpHeaderLen = 240

const magicCookie = 0x63825363

// Dissector recognises DHCPv4 by content.
type Dissector struct {
	// pool holds decoders so that the hot path reuses gopacket's option
	// slice instead of allocating one per message; a pool rather than a
	// single field keeps the dissector safe if two engines share it.
	pool sync.Pool
}

// New returns the DHCPv4 dissector.
func New() *Dissector {
	return &Dissector{pool: sync.Pool{New: func() any { return new(layers.DHCPv4) }}}
}

func (d *Dissector) Name() string               { return Name }
func (d *Dissector) Transport() proto.Transport { return proto.UDP }
func (d *Dissector) Ports() []uint16            { return []uint16{67, 68} }

// Probe accepts a BOOTP message over Ethernet addresses carrying the DHCP
// magic cookie. A BOOTREPLY travels from server to client, so one seen in
// the direction the engine took for client-to-server means its guess was
// wrong.
func (d *Dissector) Probe(c *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	op, ok := header(data)
	if !ok {
		return proto.No
	}
	if (op == opReply) == (dir == proto.ToServer) {
		return proto.YesReversed
	}
	return proto.Yes
}

const (
	opRequest = 1
	opReply   = 2
)

// header checks the fixed fields the probe relies on and returns the op.
func header(data []byte) (byte, bool) {
	if len(data) < bootpHeaderLen {
		return 0, false
	}
	op := data[0]
	if op != opRequest && op != opReply {
		return 0, false
	}
	if data[1] != 1 || data[2] != 6 {
		return 0, false
	}
	if binary.BigEndian.Uint32(data[236:240]) != magicCookie {
		return 0, false
	}
	return op, true
}

// New starts a session for one UDP flow.
func (d *Dissector) New(c *proto.Conn, out proto.Sink) proto.Session {
	return &session{d: d, conn: c, out: out}
}

// maxClients bounds the per-flow memory of which clients' facts were
// already emitted. Every client's DISCOVER shares one flow
// (0.0.0.0:68 → 255.255.255.255:67), so the set is keyed by client MAC;
// when full it is cleared, which at worst repeats some facts.
const maxClients = 512

type session struct {
	d    *Dissector
	conn *proto.Conn
	out  proto.Sink
	// told maps a client MAC to a hash of the facts last emitted for it.
	told       map[[6]byte]uint64
	serverTold bool
}

func (s *session) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	if _, ok := header(data); !ok {
		return len(data), false
	}
	msg := s.d.pool.Get().(*layers.DHCPv4)
	det, ok := decode(msg, data)
	s.d.pool.Put(msg)
	if !ok {
		return len(data), false
	}
	o := s.conn.Observation(dir, det.kind(), m)
	o.Detail = det
	if det.op == opRequest {
		o.Facts = s.clientFacts(det, o.Src)
	} else {
		if !s.serverTold {
			s.serverTold = true
			o.Facts = []event.Fact{{About: event.AboutSrc, Attr: event.AttrServer, Value: Name, Confidence: 0.9}}
		}
		// An ACK states which address the client with this MAC now holds:
		// the strongest MAC↔IP binding the inventory gets, even when the
		// ACK goes to broadcast. Only on the way to the client (port 68):
		// a server's answer to a relay agent goes to the router.
		if det.MessageType == "ack" && det.YourIP != "" && det.YourIP != "0.0.0.0" && det.ClientMAC != "" && o.Dst.Port == 68 {
			o.Facts = append(o.Facts,
				event.Fact{About: event.AboutDst, Attr: event.AttrMAC, Value: det.ClientMAC, Confidence: 0.95},
				event.Fact{About: event.AboutDst, Attr: event.AttrIP, Value: det.YourIP, Confidence: 0.95})
		}
	}
	s.out.Observe(o)
	return len(data), false
}

// clientFacts returns the facts a client message reveals about its sender,
// or nil when they were already told for this client. A relayed message's
// sender is the relay agent, not the client: its facts would describe the
// router, so they stay in the detail only (keyed by client_mac).
func (s *session) clientFacts(det *Detail, src event.Endpoint) []event.Fact {
	if det.relayed(src) {
		return nil
	}
	var fs []event.Fact
	add := func(a event.Attr, v string, c float64) {
		if v != "" {
			fs = append(fs, event.Fact{About: event.AboutSrc, Attr: a, Value: v, Confidence: c})
		}
	}
	add(event.AttrClient, Name, 0.9)
	add(event.AttrMAC, det.ClientMAC, 0.95)
	add(event.AttrHostname, det.Hostname, 0.95)
	if det.Hostname == "" && det.FQDN != "" {
		add(event.AttrHostname, det.FQDN, 0.9)
	}
	add(event.AttrVendorClass, det.VendorClass, 0.9)
	add(event.AttrDHCPFingerprint, det.ParamRequestList, 0.9)
	if os, c := osFromVendorClass(det.VendorClass); os != "" {
		add(event.AttrOS, os, c)
	}
	h := factHash(fs)
	if s.told == nil {
		s.told = make(map[[6]byte]uint64)
	}
	if prev, ok := s.told[det.mac]; ok && prev == h {
		return nil
	}
	if len(s.told) >= maxClients {
		clear(s.told)
	}
	s.told[det.mac] = h
	return fs
}

func factHash(fs []event.Fact) uint64 {
	// FNV-1a over attribute and value: enough to notice a change.
	h := uint64(14695981039346656037)
	for _, f := range fs {
		for _, s := range [2]string{string(f.Attr), f.Value} {
			for i := 0; i < len(s); i++ {
				h ^= uint64(s[i])
				h *= 1099511628211
			}
			h ^= 0xff
			h *= 1099511628211
		}
	}
	return h
}

func (s *session) Gap(proto.Dir, int) {}
func (s *session) End(proto.Meta)     {}

// osFromVendorClass maps the vendor class identifiers whose format names
// the operating system outright; anything vaguer is left to fingerprint
// matching in the inventory.
func osFromVendorClass(v string) (string, float64) {
	switch {
	case strings.HasPrefix(v, "MSFT "):
		return "Windows", 0.7
	case strings.HasPrefix(v, "android-dhcp-"):
		return "Android", 0.8
	case strings.HasPrefix(v, "dhcpcd-"):
		// dhcpcd-VERSION:SYSTEM-RELEASE:MACHINE:PLATFORM
		if parts := strings.SplitN(v, ":", 3); len(parts) >= 2 && parts[1] != "" {
			sys, _, _ := strings.Cut(parts[1], "-")
			if sys != "" {
				return sys, 0.7
			}
		}
		return "Linux", 0.5
	case strings.HasPrefix(v, "udhcp "):
		// BusyBox's client: embedded Linux.
		return "Linux", 0.6
	}
	return "", 0
}

// Detail is the detail of every DHCP observation. Addresses are strings so
// that absent ones are omitted.
type Detail struct {
	// MessageType is the DHCP message type (option 53) in lower case, or
	// "bootp" when the option is absent, or "type-N" for unknown values.
	MessageType string `json:"message_type"`
	// Op is "request" (client to server) or "reply".
	Op  string `json:"op"`
	XID uint32 `json:"xid"`
	// ClientMAC is chaddr, the client's hardware address: the key that
	// binds the facts of a message sent from 0.0.0.0 to a device.
	ClientMAC string `json:"client_mac"`
	// ClientIP is ciaddr, the address the client already holds.
	ClientIP string `json:"client_ip,omitempty"`
	// YourIP is yiaddr, the address the server offers or assigns.
	YourIP string `json:"your_ip,omitempty"`
	// RequestedIP is option 50.
	RequestedIP string `json:"requested_ip,omitempty"`
	// Relay is giaddr, the relay agent's address, when relayed.
	Relay string `json:"relay,omitempty"`
	// ServerID is option 54.
	ServerID string `json:"server_id,omitempty"`
	// Hostname is option 12; FQDN the name in option 81.
	Hostname string `json:"hostname,omitempty"`
	FQDN     string `json:"fqdn,omitempty"`
	// VendorClass is option 60.
	VendorClass string `json:"vendor_class,omitempty"`
	// ParamRequestList is option 55 as comma-separated decimal codes.
	ParamRequestList string `json:"param_request_list,omitempty"`
	// ClientID is option 61 as colon-separated hex.
	ClientID string `json:"client_id,omitempty"`
	// MUDURL is option 161, the device's Manufacturer Usage Description.
	MUDURL       string   `json:"mud_url,omitempty"`
	LeaseSeconds uint32   `json:"lease_seconds,omitempty"`
	SubnetMask   string   `json:"subnet_mask,omitempty"`
	Routers      []string `json:"routers,omitempty"`
	DNSServers   []string `json:"dns_servers,omitempty"`
	DomainName   string   `json:"domain_name,omitempty"`
	// Message is option 56, a server's error text in a NAK.
	Message string `json:"message,omitempty"`
	// Malformed says an option ran past the end of the message; the
	// options before it are kept.
	Malformed bool `json:"malformed,omitempty"`

	op     byte
	mac    [6]byte
	giaddr netip.Addr
}

// relayed says whether src is a relay agent forwarding the client's
// message: relays set giaddr and send from the server port 67 (clients use
// 68), usually from the giaddr address itself.
func (d *Detail) relayed(src event.Endpoint) bool {
	return d.giaddr.IsValid() && (src.Port == 67 || src.IP == d.giaddr)
}

func (d *Detail) kind() string {
	if strings.HasPrefix(d.MessageType, "type-") {
		return "message"
	}
	return d.MessageType
}

var msgTypes = [...]string{"", "discover", "offer", "request", "decline", "ack", "nak", "release", "inform"}

// maxAddrs bounds the router and DNS server lists kept in a detail.
const maxAddrs = 8

// decode fills a Detail from data, which header accepted. gopacket stops
// at a malformed option and reports an error; the options it decoded
// before it are still in msg.Options and are used, since fuzzed or
// truncated captures otherwise lose the host name that precedes the bad
// option.
func decode(msg *layers.DHCPv4, data []byte) (det *Detail, ok bool) {
	defer func() {
		// gopacket is third-party code fed hostile input: a panic in it
		// must cost one message, not the sensor.
		if recover() != nil {
			det, ok = nil, false
		}
	}()
	err := msg.DecodeFromBytes(data, gopacket.NilDecodeFeedback)
	if err != nil && err != layers.DecOptionMalformed && err != layers.DecOptionNotEnoughData {
		return nil, false
	}
	det = &Detail{op: data[0], XID: msg.Xid, Malformed: err != nil}
	det.Op = "request"
	if det.op == opReply {
		det.Op = "reply"
	}
	copy(det.mac[:], data[28:34])
	det.ClientMAC = macString(det.mac)
	det.ClientIP = addr4(data[12:16])
	det.YourIP = addr4(data[16:20])
	det.Relay = addr4(data[24:28])
	if det.Relay != "" {
		det.giaddr = netip.AddrFrom4([4]byte(data[24:28]))
	}
	det.MessageType = "bootp"
	for i := range msg.Options {
		o := &msg.Options[i]
		v := o.Data
		switch o.Type {
		case layers.DHCPOptMessageType:
			if len(v) == 1 {
				if int(v[0]) < len(msgTypes) && v[0] != 0 {
					det.MessageType = msgTypes[v[0]]
				} else {
					det.MessageType = "type-" + strconv.Itoa(int(v[0]))
				}
			}
		case layers.DHCPOptRequestIP:
			det.RequestedIP = addrOpt(v)
		case layers.DHCPOptServerID:
			det.ServerID = addrOpt(v)
		case layers.DHCPOptHostname:
			det.Hostname = text(v)
		case layers.DHCPOptDomainName:
			det.DomainName = text(v)
		case 81: // client FQDN: flags, two obsolete rcodes, then the name
			if len(v) > 3 {
				det.FQDN = strings.TrimSuffix(fqdn(v[0], v[3:]), ".")
			}
		case layers.DHCPOptClassID:
			det.VendorClass = text(v)
		case layers.DHCPOptParamsRequest:
			det.ParamRequestList = decimalList(v)
		case layers.DHCPOptClientID:
			det.ClientID = hexColon(v)
		case layers.DHCPOptMUDURLV4:
			det.MUDURL = text(v)
		case layers.DHCPOptLeaseTime:
			if len(v) == 4 {
				det.LeaseSeconds = binary.BigEndian.Uint32(v)
			}
		case layers.DHCPOptSubnetMask:
			det.SubnetMask = addrOpt(v)
		case layers.DHCPOptRouter:
			det.Routers = addrList(v)
		case layers.DHCPOptDNS:
			det.DNSServers = addrList(v)
		case layers.DHCPOptMessage:
			det.Message = text(v)
		}
	}
	return det, true
}

func addr4(b []byte) string {
	a := netip.AddrFrom4([4]byte(b))
	if a.IsUnspecified() {
		return ""
	}
	return a.String()
}

func addrOpt(v []byte) string {
	if len(v) != 4 {
		return ""
	}
	return netip.AddrFrom4([4]byte(v)).String()
}

func addrList(v []byte) []string {
	var out []string
	for i := 0; i+4 <= len(v) && len(out) < maxAddrs; i += 4 {
		out = append(out, netip.AddrFrom4([4]byte(v[i:i+4])).String())
	}
	return out
}

// fqdn decodes option 81's name: canonical wire format when the E flag
// (0x04) is set, else ASCII.
func fqdn(flags byte, v []byte) string {
	if flags&0x04 == 0 {
		return text(v)
	}
	var b strings.Builder
	for len(v) > 0 && v[0] != 0 {
		n := int(v[0])
		if n > 63 || n+1 > len(v) {
			break
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(text(v[1 : n+1]))
		v = v[n+1:]
	}
	return b.String()
}

// text turns an option's bytes into a printable string: trailing NULs
// (common in DHCP clients) are dropped and control bytes replaced, so that
// hostile values cannot forge log lines or terminal escapes.
func text(v []byte) string {
	for len(v) > 0 && (v[len(v)-1] == 0 || v[len(v)-1] == ' ') {
		v = v[:len(v)-1]
	}
	clean := true
	for _, c := range v {
		if c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return string(v)
	}
	b := make([]byte, len(v))
	for i, c := range v {
		if c < 0x20 || c >= 0x7f {
			c = '?'
		}
		b[i] = c
	}
	return string(b)
}

func decimalList(v []byte) string {
	b := make([]byte, 0, len(v)*4)
	for i, c := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(c), 10)
	}
	return string(b)
}

const hexDigits = "0123456789abcdef"

func hexColon(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	b := make([]byte, 0, len(v)*3)
	for i, c := range v {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return string(b)
}

func macString(m [6]byte) string { return hexColon(m[:]) }
