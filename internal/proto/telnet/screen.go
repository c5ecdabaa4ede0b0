package telnet

import (
	"regexp"

	"github.com/heir-emd/heir/internal/event"
)

// promptKind is what a line of server text asks the user for.
type promptKind uint8

const (
	promptOther promptKind = iota
	promptLogin
	promptPassword
	promptShell
)

// classify says what the server's current line is prompting for. typing
// says the client has just started typing at it, which is evidence enough
// that it is a prompt even without the trailing space shell prompts
// usually have.
func classify(line []byte, typing bool) promptKind {
	t := trimSpace(line)
	if len(t) == 0 {
		return promptOther
	}
	if t[len(t)-1] == ':' {
		head := t[:len(t)-1]
		head = trimSpace(head)
		switch {
		case hasFold(head, "password"), hasFold(head, "passcode"), hasFold(head, "passwd"):
			return promptPassword
		case hasFold(head, "last login"):
			return promptOther
		case endsFold(head, "login"), endsFold(head, "username"), endsFold(head, "user name"),
			endsFold(head, "user"), endsFold(head, "user id"), endsFold(head, "userid"):
			return promptLogin
		}
		return promptOther
	}
	if isShellEnd(line, typing) {
		return promptShell
	}
	return promptOther
}

// isShellEnd says whether line ends like a shell or device CLI prompt:
// "$ ", "# ", "> " or "% ". Without the trailing space only when the user
// is typing at it.
func isShellEnd(line []byte, typing bool) bool {
	n := len(line)
	if n >= 2 && line[n-1] == ' ' && isPromptChar(line[n-2]) {
		return true
	}
	if typing {
		t := trimSpace(line)
		return len(t) > 0 && isPromptChar(t[len(t)-1])
	}
	return false
}

func isPromptChar(c byte) bool { return c == '$' || c == '#' || c == '>' || c == '%' }

// failureWords are what login programs say when they refuse a login:
// util-linux and BusyBox "Login incorrect", PAM "Authentication failure",
// Cisco "% Bad passwords" / "% Login invalid", Windows "Logon failure",
// and the generic "access denied" / "invalid".
var failureWords = []string{
	"login incorrect", "incorrect login", "incorrect password", "authentication failed",
	"authentication failure", "access denied", "invalid", "login failed", "logon failure",
	"bad password", "wrong password", "permission denied",
}

func isFailure(line []byte) bool {
	for _, w := range failureWords {
		if hasFold(line, w) {
			return true
		}
	}
	return false
}

// isLastLogin says whether line is the "Last login: …" line login(1)
// prints after accepting a user.
func isLastLogin(line []byte) bool { return hasFold(line, "last login") }

// osPatterns find operating systems and software that banners and the
// message of the day name. Each names the attribute, the value template
// and the confidence: high when the text states a version, lower for
// hints.
var osPatterns = []struct {
	key  string // a literal the line must hold, checked before the regexp
	re   *regexp.Regexp
	attr event.Attr
	tmpl string
	conf float64
}{
	{"Debian", regexp.MustCompile(`\bDebian GNU/Linux (\d+(?:\.\d+)?)`), event.AttrOS, "Debian GNU/Linux $1", 0.8},
	{"Ubuntu", regexp.MustCompile(`\bUbuntu (\d+\.\d+(?:\.\d+)?(?: LTS)?)`), event.AttrOS, "Ubuntu $1", 0.8},
	{"release", regexp.MustCompile(`\b(CentOS|Red Hat Enterprise Linux|Fedora|Rocky Linux|AlmaLinux)\b[^\n]{0,40}?\brelease (\d+(?:\.\d+)*)`), event.AttrOS, "$1 $2", 0.8},
	{"BSD ", regexp.MustCompile(`\b(OpenBSD|FreeBSD|NetBSD) (\d+\.\d+[\w.-]*)`), event.AttrOS, "$1 $2", 0.8},
	{"BSD/", regexp.MustCompile(`^(OpenBSD|FreeBSD|NetBSD)/[\w.-]+ \(`), event.AttrOS, "$1", 0.7},
	// uname -a, which Debian's default message of the day prints.
	{"Linux ", regexp.MustCompile(`^Linux [\w.-]+ (\d+\.\d+[\w.+~-]*) #`), event.AttrOS, "Linux $1", 0.8},
	// /etc/issue's "Kernel \r on an \m".
	{"Kernel ", regexp.MustCompile(`\bKernel (\d+\.\d+[\w.+~-]*) on an? `), event.AttrOS, "Linux $1", 0.8},
	{"BusyBox", regexp.MustCompile(`\bBusyBox v(\d+\.\d+(?:\.\d+)?)`), event.AttrSoftware, "BusyBox v$1", 0.8},
	{"VxWorks", regexp.MustCompile(`\bVxWorks\b`), event.AttrOS, "VxWorks", 0.6},
	{"Microsoft", regexp.MustCompile(`Welcome to Microsoft Telnet Service`), event.AttrOS, "Windows", 0.7},
	{"User Access", regexp.MustCompile(`^User Access Verification$`), event.AttrOS, "Cisco IOS", 0.6},
}

// hostPrompt is login(1)'s "<host name> login: " prompt.
var hostPrompt = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9.-]{0,62}) login:\s*$`)

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasFold says whether s contains the lower-case ASCII word w, ignoring
// case, without allocating.
func hasFold(s []byte, w string) bool {
	n := len(w)
	for i := 0; i+n <= len(s); i++ {
		if lower(s[i]) != w[0] {
			continue
		}
		j := 1
		for j < n && lower(s[i+j]) == w[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

// endsFold says whether s ends with the lower-case ASCII word w, ignoring
// case.
func endsFold(s []byte, w string) bool {
	if len(s) < len(w) {
		return false
	}
	s = s[len(s)-len(w):]
	for i := range len(w) {
		if lower(s[i]) != w[i] {
			return false
		}
	}
	return true
}
