package telnet

import (
	"bytes"

	"github.com/heir-emd/heir/internal/proto"
)

// Telnet commands (RFC 854).
const (
	cmdSE   = 240
	cmdNOP  = 241
	cmdEC   = 247
	cmdEL   = 248
	cmdGA   = 249
	cmdSB   = 250
	cmdWILL = 251
	cmdWONT = 252
	cmdDO   = 253
	cmdDONT = 254
	cmdIAC  = 255
)

// Options the session interprets.
const (
	optEcho       = 1
	optStatus     = 5
	optTType      = 24
	optNAWS       = 31
	optTSpeed     = 32
	optLFlow      = 33
	optLinemode   = 34
	optXDispLoc   = 35
	optOldEnviron = 36
	optNewEnviron = 39
	optStartTLS   = 46
)

// optionNames names the options IANA lists (telnet-options registry);
// others are shown as numbers.
var optionNames = [...]string{
	0: "binary", 1: "echo", 2: "reconnection", 3: "suppress-go-ahead",
	4: "message-size", 5: "status", 6: "timing-mark", 7: "rcte",
	8: "output-line-width", 9: "output-page-size", 10: "output-cr",
	11: "output-htab-stops", 12: "output-htab", 13: "output-ff",
	14: "output-vtab-stops", 15: "output-vtab", 16: "output-lf",
	17: "extended-ascii", 18: "logout", 19: "byte-macro", 20: "data-entry-terminal",
	21: "supdup", 22: "supdup-output", 23: "send-location", 24: "terminal-type",
	25: "end-of-record", 26: "tacacs-user-id", 27: "output-marking",
	28: "terminal-location", 29: "3270-regime", 30: "x3-pad", 31: "naws",
	32: "terminal-speed", 33: "remote-flow-control", 34: "linemode",
	35: "x-display-location", 36: "environ", 37: "authentication",
	38: "encrypt", 39: "new-environ", 40: "tn3270e", 41: "xauth",
	42: "charset", 43: "remote-serial-port", 44: "com-port", 45: "suppress-local-echo",
	46: "start-tls", 47: "kermit", 48: "send-url", 49: "forward-x",
}

// knownOption says whether opt is an option a real Telnet peer negotiates:
// the registered range, the three Microsoft/Pragma logon options, and
// EXOPL. Requiring it keeps binary data that happens to start with 0xFF
// 0xFB (an MP3 frame header, say) from being taken for Telnet.
func knownOption(opt byte) bool {
	return opt < byte(len(optionNames)) || (opt >= 138 && opt <= 140) || opt == 255
}

// Probe implements proto.Dissector. A stream is Telnet when it starts with
// well-formed option negotiation (IAC WILL/WONT/DO/DONT of a registered
// option, possibly followed by more commands and subnegotiations), or with
// text that ends in a login or password prompt. The options asked for tell
// server from client: a server asks the terminal type and window size
// (DO TERMINAL-TYPE, DO NAWS) and offers echo; a client offers them (WILL
// TERMINAL-TYPE, WILL NAWS) and asks for echo. A prompt always comes from
// the server. When that contradicts the engine's guess the answer is
// YesReversed.
func (d *Dissector) Probe(_ *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	if len(data) == 0 {
		return proto.Unsure
	}
	var role int
	if data[0] == cmdIAC {
		v, r := probeNegotiation(data)
		if v != proto.Yes {
			return v
		}
		role = r
	} else {
		v := probeText(data)
		if v != proto.Yes {
			return v
		}
		role = roleServer
	}
	switch {
	case role == roleServer && dir == proto.ToServer:
		return proto.YesReversed
	case role == roleClient && dir == proto.ToClient:
		return proto.YesReversed
	}
	return proto.Yes
}

const (
	roleUnknown = iota
	roleServer
	roleClient
)

// probeNegotiation checks that data starts with Telnet commands and says
// whose they look like.
func probeNegotiation(data []byte) (proto.Verdict, int) {
	var server, client, complete int
	i := 0
	for i < len(data) && complete < 64 {
		if data[i] != cmdIAC {
			break // text follows the negotiation
		}
		if i+1 >= len(data) {
			break
		}
		c := data[i+1]
		switch {
		case c >= cmdWILL && c <= cmdDONT:
			if i+2 >= len(data) {
				i = len(data)
				continue
			}
			opt := data[i+2]
			if !knownOption(opt) {
				return proto.No, 0
			}
			s, cl := optionRole(c, opt)
			server += s
			client += cl
			complete++
			i += 3
		case c == cmdSB:
			if i+2 >= len(data) {
				i = len(data)
				continue
			}
			opt := data[i+2]
			if !knownOption(opt) {
				return proto.No, 0
			}
			end := bytes.Index(data[i+3:], []byte{cmdIAC, cmdSE})
			if i+3 < len(data) {
				// SEND (1) asks the peer for a value: servers ask, clients
				// answer with IS (0).
				switch data[i+3] {
				case 1:
					server++
				case 0:
					client++
				}
			}
			if end < 0 {
				i = len(data)
				continue
			}
			complete++
			i += 3 + end + 2
		case c >= cmdNOP && c <= cmdGA:
			i += 2
		default:
			return proto.No, 0
		}
	}
	if complete == 0 {
		return proto.Unsure, 0
	}
	switch {
	case server > client:
		return proto.Yes, roleServer
	case client > server:
		return proto.Yes, roleClient
	}
	return proto.Yes, roleUnknown
}

// optionRole scores one negotiation as typical of a server or a client.
func optionRole(verb, opt byte) (server, client int) {
	switch opt {
	case optTType, optNAWS, optTSpeed, optLFlow, optLinemode, optXDispLoc, optOldEnviron, optNewEnviron:
		// Terminal properties live on the client: the server asks for
		// them, the client offers them.
		switch verb {
		case cmdDO:
			return 1, 0
		case cmdWILL:
			return 0, 1
		}
	case optEcho, optStatus:
		// The server echoes; the client asks it to.
		switch verb {
		case cmdWILL:
			return 1, 0
		case cmdDO:
			return 0, 1
		}
	}
	return 0, 0
}

// probeText accepts text that ends with a login or password prompt and
// rejects the openings of other text protocols, whose servers also greet
// first.
func probeText(data []byte) proto.Verdict {
	for _, p := range otherOpenings {
		n := min(len(p), len(data))
		if bytes.EqualFold(data[:n], p[:n]) {
			return proto.No
		}
	}
	if len(data) >= 4 && isDigit(data[0]) && isDigit(data[1]) && isDigit(data[2]) && (data[3] == ' ' || data[3] == '-') {
		return proto.No // FTP, SMTP, NNTP replies
	}
	for _, b := range data {
		if b < 0x20 && b != '\r' && b != '\n' && b != '\t' && b != 0 && b != 0x1b && b != 0x07 {
			return proto.No
		}
	}
	last := data
	if i := bytes.LastIndexAny(data, "\r\n"); i >= 0 {
		last = data[i+1:]
	}
	switch classify(last, false) {
	case promptLogin, promptPassword:
		return proto.Yes
	}
	if len(data) > 1024 {
		return proto.No
	}
	return proto.Unsure
}

var otherOpenings = [][]byte{
	[]byte("HTTP/"), []byte("GET "), []byte("POST "), []byte("HEAD "), []byte("PUT "),
	[]byte("SSH-"), []byte("+OK"), []byte("-ERR"), []byte("* OK"), []byte("* PREAUTH"),
	[]byte("RFB "), []byte("USER "), []byte("EHLO"), []byte("HELO"), []byte("AUTH "),
	[]byte("MSH|"), []byte("<?xml"),
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }
