package smb

import (
	"strings"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// Negotiate is the detail of a "negotiate" observation, made when the
// server's answer is seen (or the flow ends without it). Src is the client.
type Negotiate struct {
	// Version is the protocol the server chose: "smb1", "smb2" or
	// "smb3"; empty when its answer was not seen.
	Version string `json:"version,omitempty"`
	// SMB1Dialects are the dialect strings of an SMB1 NEGOTIATE
	// (including "SMB 2.002" and "SMB 2.???" that offer SMB2).
	SMB1Dialects []string `json:"smb1_dialects,omitempty"`
	// Dialects are the SMB2 dialects offered ("2.0.2" … "3.1.1").
	Dialects []string `json:"dialects,omitempty"`
	// Dialect is the one the server chose ("NT LM 0.12", "3.1.1").
	Dialect string `json:"dialect,omitempty"`
	// Upgraded says an SMB1 multi-protocol NEGOTIATE was answered in
	// SMB2: SMBv1 offered by the client but not used.
	Upgraded bool `json:"upgraded,omitempty"`
	// Signing is the server's signing policy: "required", "enabled"
	// (allowed but not required) or "disabled".
	Signing string `json:"signing,omitempty"`
	// ClientSigning is the client's, from its SMB2 NEGOTIATE.
	ClientSigning string `json:"client_signing,omitempty"`
	// Note says in words what the signing fields mean for security.
	Note string `json:"note,omitempty"`
	// ServerGUID identifies the server (SMB2, or SMB1 with extended
	// security).
	ServerGUID string `json:"server_guid,omitempty"`
	// Ciphers and SigningAlgorithms are SMB 3.1.1's negotiate contexts:
	// the client's offer, or the server's choice when its answer was seen.
	Ciphers           []string `json:"ciphers,omitempty"`
	SigningAlgorithms []string `json:"signing_algorithms,omitempty"`
	// ServerName is the name the client gave the server (SMB 3.1.1
	// NETNAME context).
	ServerName string `json:"server_name,omitempty"`
	// Domain and ServerHost are an SMB1 server's workgroup or domain and
	// its NetBIOS name, sent in clear when extended security is off.
	Domain     string `json:"domain,omitempty"`
	ServerHost string `json:"server_host,omitempty"`
	// OnlySMB1 says the client offered no SMB2 dialect.
	OnlySMB1 bool `json:"only_smb1,omitempty"`

	smb1Chosen bool
	meta       proto.Meta
}

// SessionSetup is the detail of a "session-setup" observation, made when
// the server's final answer is seen (or the flow ends before). Src is the
// client. Passwords and challenge responses are never kept.
type SessionSetup struct {
	// Version is "smb1" or "smb2" (SMB 2 and 3).
	Version string `json:"version"`
	// Mechanism is "ntlmssp", "kerberos", "spnego" (another or unknown
	// SPNEGO mechanism) or "password" (SMB1 without extended security).
	Mechanism string `json:"mechanism,omitempty"`
	// User, Domain and Workstation are what the client sent (NTLM
	// AUTHENTICATE or SMB1 fields).
	User        string `json:"user,omitempty"`
	Domain      string `json:"domain,omitempty"`
	Workstation string `json:"workstation,omitempty"`
	// Anonymous says the client logged on without a user name and
	// password (a null session).
	Anonymous bool `json:"anonymous,omitempty"`
	// NTLMVersion is "v1" or "v2", from the response's length: NTLMv1
	// responses can be cracked.
	NTLMVersion string `json:"ntlm_version,omitempty"`
	// ClientOS and ClientLanMan are the SMB1 client's native OS and LAN
	// manager strings; ServerOS, ServerLanMan and ServerDomain the SMB1
	// server's.
	ClientOS     string `json:"client_os,omitempty"`
	ClientLanMan string `json:"client_lanman,omitempty"`
	ServerOS     string `json:"server_os,omitempty"`
	ServerLanMan string `json:"server_lanman,omitempty"`
	ServerDomain string `json:"server_domain,omitempty"`
	// ClientVersion and ServerVersion are the Windows versions NTLM
	// messages state ("10.0.19041").
	ClientVersion string `json:"client_version,omitempty"`
	ServerVersion string `json:"server_version,omitempty"`
	// ServerNetBIOSName, ServerDNSName, ServerNetBIOSDomain and
	// ServerDNSDomain are from the NTLM CHALLENGE's target information.
	ServerNetBIOSName   string `json:"server_netbios_name,omitempty"`
	ServerDNSName       string `json:"server_dns_name,omitempty"`
	ServerNetBIOSDomain string `json:"server_netbios_domain,omitempty"`
	ServerDNSDomain     string `json:"server_dns_domain,omitempty"`
	// Status is the server's final answer: "success", "logon-failure",
	// "access-denied" … or the NT status in hex; empty when unseen.
	Status string `json:"status,omitempty"`
	// Guest says the server mapped the session to the guest account.
	Guest bool `json:"guest,omitempty"`
	// Encrypted says the server requires encryption for the session
	// (SMB 3).
	Encrypted bool `json:"encrypted,omitempty"`

	cleartextPwd bool
	meta         proto.Meta
}

func (s *session) negotiation() *Negotiate {
	if s.neg == nil {
		s.neg = &Negotiate{}
	}
	return s.neg
}

func (s *session) sessionSetup(version string) *SessionSetup {
	if s.setup == nil {
		s.setup = &SessionSetup{Version: version}
	}
	return s.setup
}

// tellNegotiate emits the negotiation once.
func (s *session) tellNegotiate(m proto.Meta) {
	n := s.neg
	if n == nil || s.negTold {
		return
	}
	s.negTold = true
	if !n.meta.Time.IsZero() {
		m = n.meta
	}
	o := s.conn.Observation(proto.ToServer, "negotiate", m)
	o.Detail = n
	o.Facts = s.roleFacts(proto.ToServer, nil)
	if n.Domain != "" {
		o.Facts = append(o.Facts, event.Fact{About: event.AboutDst, Attr: event.AttrDomain, Value: n.Domain, Confidence: 0.7})
	}
	if n.ServerHost != "" {
		o.Facts = append(o.Facts, event.Fact{About: event.AboutDst, Attr: event.AttrHostname, Value: n.ServerHost, Confidence: 0.8})
	}
	if n.smb1Chosen {
		o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakSMBv1, About: event.AboutDst,
			Detail: "SMBv1 dialect " + n.Dialect + " negotiated"})
	}
	if n.OnlySMB1 {
		o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakSMBv1, About: event.AboutSrc,
			Detail: "client offers only SMBv1 dialects"})
	}
	s.out.Observe(o)
}

// tellSetup emits the session setup once.
func (s *session) tellSetup(m proto.Meta) {
	ss := s.setup
	if ss == nil || s.setupTold {
		return
	}
	s.setupTold = true
	if !ss.meta.Time.IsZero() {
		m = ss.meta
	}
	o := s.conn.Observation(proto.ToServer, "session-setup", m)
	o.Detail = ss
	fs := s.roleFacts(proto.ToServer, nil)
	add := func(about event.About, a event.Attr, v string, c float64) {
		if v != "" {
			fs = append(fs, event.Fact{About: about, Attr: a, Value: v, Confidence: c})
		}
	}
	src, dst := event.AboutSrc, event.AboutDst
	add(src, event.AttrHostname, ss.Workstation, 0.9)
	if !ss.Anonymous && !strings.EqualFold(ss.Domain, ss.Workstation) {
		// A local account's "domain" is the workstation's own name.
		add(src, event.AttrDomain, ss.Domain, 0.8)
	}
	add(src, event.AttrOS, ss.ClientOS, 0.8)
	add(src, event.AttrSoftware, ss.ClientLanMan, 0.7)
	if ss.ClientOS == "" {
		add(src, event.AttrOS, windows(ss.ClientVersion), 0.6)
	}
	add(dst, event.AttrOS, ss.ServerOS, 0.8)
	add(dst, event.AttrSoftware, ss.ServerLanMan, 0.7)
	if ss.ServerOS == "" {
		add(dst, event.AttrOS, windows(ss.ServerVersion), 0.6)
	}
	add(dst, event.AttrHostname, ss.ServerNetBIOSName, 0.9)
	if ss.ServerDNSDomain != "" {
		add(dst, event.AttrDomain, ss.ServerDNSDomain, 0.9)
	} else if ss.ServerNetBIOSDomain != "" && !strings.EqualFold(ss.ServerNetBIOSDomain, ss.ServerNetBIOSName) {
		add(dst, event.AttrDomain, ss.ServerNetBIOSDomain, 0.8)
	} else {
		add(dst, event.AttrDomain, ss.ServerDomain, 0.7)
	}
	o.Facts = fs
	if ss.cleartextPwd {
		o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakCleartextCredentials, About: dst,
			Detail: "SMB1 password sent in cleartext"})
	}
	if ss.Status == "success" {
		switch {
		case ss.Anonymous:
			o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakUnauthenticated, About: dst,
				Detail: "anonymous (null) SMB session accepted"})
		case ss.Guest:
			o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakUnauthenticated, About: dst,
				Detail: "SMB session mapped to guest"})
		}
	}
	s.out.Observe(o)
}

// windows names the Windows release an NTLM version states. Build 0 is
// what Samba and other non-Windows stacks send: no claim then.
func windows(v string) string {
	if v == "" || isBuildZero(v) {
		return ""
	}
	return "Windows " + v
}

func isBuildZero(v string) bool {
	i := strings.LastIndexByte(v, '.')
	return i >= 0 && v[i+1:] == "0"
}

// statusName names the NT status codes a session setup ends with.
func statusName(st uint32) string {
	switch st {
	case 0:
		return "success"
	case 0xc000006d:
		return "logon-failure"
	case 0xc0000022:
		return "access-denied"
	case 0xc0000072:
		return "account-disabled"
	case 0xc0000234:
		return "account-locked-out"
	case 0xc0000071:
		return "password-expired"
	case 0xc0000224:
		return "password-must-change"
	case 0xc000015b:
		return "logon-type-not-granted"
	case 0xc00000bb:
		return "not-supported"
	}
	const hx = "0123456789abcdef"
	b := []byte("0x00000000")
	for i := 0; i < 8; i++ {
		b[9-i] = hx[st>>(4*i)&15]
	}
	return string(b)
}
