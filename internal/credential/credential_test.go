package credential

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestDefaultsParse(t *testing.T) {
	l := Defaults()
	if l.Len() < 60 {
		t.Fatalf("Defaults has %d entries, want the Mirai table and vendor rows", l.Len())
	}
	for _, e := range l.Entries() {
		if e.Source == "" {
			t.Errorf("line %d (%s %s): no source", e.Line, e.Vendor, e.User)
		}
		if e.Vendor == "" {
			t.Errorf("line %d: no vendor", e.Line)
		}
	}
	// Each call parses afresh: the lists are independent values.
	if Defaults() == l {
		t.Fatal("Defaults returned a shared list")
	}
}

func TestDefaultsContent(t *testing.T) {
	l := Defaults()
	tests := []struct {
		user, password string
		want           bool
		vendor         string
	}{
		// The generic pairs the brief and every scanner start with.
		{"admin", "admin", true, "generic"},
		{"root", "root", true, "generic"},
		{"admin", "password", true, "generic"},
		{"admin", "1234", true, "generic"},
		{"support", "support", true, "generic"},
		{"guest", "guest", true, "generic"},
		{"user", "user", true, "generic"},
		{"service", "service", true, "generic"},
		// Decoded Mirai values, not the misleading comments.
		{"Administrator", "meinsm", true, "generic"},
		{"admin", "4321", true, "generic"},
		{"root", "", true, "generic"},
		// User names case-insensitive, passwords exact.
		{"ADMIN", "admin", true, "generic"},
		{"admin", "ADMIN", false, ""},
		{"admin", "admin ", false, ""},
		// Medical-device vendor rows.
		{"insite", "2getin", true, "GE Healthcare"},
		{"biomed", "Change Me", true, "GE Healthcare"},
		{"root", "#bigguy", true, "GE Healthcare"},
		{"museadmin", "Muse!Admin", true, "GE Healthcare"},
		// Not listed.
		{"admin", "letmein", false, ""},
		{"support", "admin", false, ""},
		{"guest", "1234", false, ""},
		{"", "admin", false, ""},
		{"nobody", "", false, ""},
	}
	for _, tt := range tests {
		if got := l.IsDefault(tt.user, tt.password); got != tt.want {
			t.Errorf("IsDefault(%q, <%d bytes>) = %v, want %v", tt.user, len(tt.password), got, tt.want)
		}
		e, ok := l.Match(tt.user, tt.password)
		if ok != tt.want {
			t.Errorf("Match(%q) ok = %v", tt.user, ok)
		}
		if ok && e.Vendor != tt.vendor {
			t.Errorf("Match(%q) vendor = %q, want %q", tt.user, e.Vendor, tt.vendor)
		}
	}
}

func TestLoadAnyUserAndPreference(t *testing.T) {
	in := "vendor,product,user,password,source\n" +
		"Acme,Pump,,acme123,manual p. 4\n" +
		"Acme,Pump,svc,acme123,manual p. 5\n" +
		"generic,,svc,svc,list\n" +
		"generic,,svc,svc,duplicate row\n"
	l, err := Load(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 4 {
		t.Fatalf("Len = %d", l.Len())
	}
	if !l.IsDefault("anyone", "acme123") || !l.IsDefault("", "acme123") {
		t.Error("empty user must match any user")
	}
	e, ok := l.Match("SVC", "acme123")
	if !ok || e.Line != 3 || e.Product != "Pump" {
		t.Errorf("Match prefers the row naming the user: got %+v %v", e, ok)
	}
	e, ok = l.Match("svc", "svc")
	if !ok || e.Source != "list" {
		t.Errorf("first duplicate wins: got %+v", e)
	}
	if l.IsDefault("svc", "acme12") {
		t.Error("prefix of a password matched")
	}
}

func TestLoadErrors(t *testing.T) {
	const hdr = "vendor,product,user,password,source\n"
	tests := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"empty", "", 1, "empty list"},
		{"comments only", "# nothing\n", 1, "empty list"},
		{"no header", "generic,,admin,admin,x\n", 1, "want header"},
		{"wrong header", "vendor,user,password\n", 1, "want header"},
		{"few fields", hdr + "# c\ngeneric,,admin,admin,src\ngeneric,admin,admin\n", 4, "want 5 fields"},
		{"many fields", hdr + "generic,,admin,admin,src,extra\n", 2, "got 6"},
		{"empty vendor", hdr + ",,admin,admin,src\n", 2, "vendor is empty"},
		{"control char", hdr + "generic,,adm\x01in,admin,src\n", 2, "user: control character"},
		{"tab in password", hdr + "generic,,admin,\"a\tb\",src\n", 2, "password: control character"},
		{"newline in quoted field", hdr + "generic,,admin,\"a\nb\",src\n", 2, "password: control character"},
		{"bad quote", hdr + "generic,,admin,a\"b,src\n", 2, "bare \""},
		{"unterminated quote", hdr + "generic,,admin,\"ab,src\n", 2, "extraneous or missing"},
		{"long field", hdr + "generic,,admin," + strings.Repeat("x", MaxField+1) + ",src\n", 2, "longer than"},
		{"bad utf8", hdr + "generic,,admin,\xff\xfe,src\n", 2, "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a LineError", err)
			}
			if le.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", le.Line, tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestLoadTooMany(t *testing.T) {
	var b strings.Builder
	b.WriteString("vendor,product,user,password,source\n")
	for i := 0; i <= MaxEntries; i++ {
		b.WriteString("generic,,u,p,s\n")
	}
	_, err := Load(strings.NewReader(b.String()))
	var le *LineError
	if !errors.As(err, &le) || le.Line != MaxEntries+2 {
		t.Fatalf("err = %v, want line %d", err, MaxEntries+2)
	}
}

func TestBOMHeader(t *testing.T) {
	l, err := Load(strings.NewReader("\ufeffVendor, Product,User,Password,Source\r\ngeneric,,a,b,c\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !l.IsDefault("a", "b") {
		t.Error("CRLF list not read")
	}
}

func TestNoPasswordInOutput(t *testing.T) {
	const secret = "S3cr3t-Pump-Pw"
	l, err := Load(strings.NewReader("vendor,product,user,password,source\nAcme,Pump,svc," + secret + ",manual\n"))
	if err != nil {
		t.Fatal(err)
	}
	e, ok := l.Match("svc", secret)
	if !ok {
		t.Fatal("no match")
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("match", "entry", e, "list", l)
	log.Info("text", "entry", e.String())
	if strings.Contains(buf.String(), secret) {
		t.Fatalf("password leaked: %s", buf.String())
	}
	if !strings.Contains(buf.String(), `"password":"[redacted]"`) || !strings.Contains(buf.String(), `"vendor":"Acme"`) {
		t.Errorf("log lacks redacted entry: %s", buf.String())
	}
	if strings.Contains(e.String(), secret) || !strings.Contains(e.String(), "svc") {
		t.Errorf("String = %q", e.String())
	}
}

func TestNilAndEmpty(t *testing.T) {
	var l *List
	if l.IsDefault("admin", "admin") || l.Len() != 0 || l.Entries() != nil {
		t.Error("nil list")
	}
	if (&List{}).IsDefault("admin", "admin") {
		t.Error("zero list")
	}
	long := strings.Repeat("a", MaxField+1)
	if Defaults().IsDefault(long, "admin") || Defaults().IsDefault("admin", long) {
		t.Error("over-long input matched")
	}
}

func TestIsWeakPassword(t *testing.T) {
	l := Defaults()
	tests := []struct {
		user, pw string
		want     bool
	}{
		{"alice", "", true},
		{"alice", "short", true},
		{"alice", "12345678", true},
		{"alice", "87654321", true},
		{"alice", "abcdefgh", true},
		{"alice", "zzzzzzzz", true},
		{"alice", "xxALICExx99", true},
		{"root", "7ujMko0vizxv", true}, // listed by Mirai
		{"alice", "correct horse battery", false},
		{"alice", "Tq9#vLm2pW", false},
	}
	for _, tt := range tests {
		if got := l.IsWeakPassword(tt.user, tt.pw); got != tt.want {
			t.Errorf("IsWeakPassword(%q, %d bytes) = %v, want %v", tt.user, len(tt.pw), got, tt.want)
		}
	}
	// Default and weak are separate judgements.
	if !l.IsDefault("insite", "2getin") || !l.IsWeakPassword("insite", "2getin") {
		t.Error("2getin")
	}
	var nl *List
	if nl.IsWeakPassword("a", "Tq9#vLm2pW") || !nl.IsWeakPassword("a", "1234") {
		t.Error("nil list weak check")
	}
}

func FuzzCredentialList(f *testing.F) {
	f.Add([]byte(defaultsCSV), "admin", "admin")
	f.Add([]byte("vendor,product,user,password,source\ngeneric,,,x,s\n"), "", "x")
	f.Add([]byte("vendor,product,user,password,source\n\"a\"\"b\",,u,\"p,q\",s\n"), "U", "p,q")
	f.Add([]byte("# c\nvendor,product,user,password,source\n,,,,\n"), "", "")
	f.Add([]byte("\ufeffvendor,product,user,password,source\r\nx,y,\xc3\x84dmin,p,s\r\n"), "\xc3\xa4dmin", "p")
	f.Fuzz(func(t *testing.T, data []byte, user, password string) {
		l, err := Load(bytes.NewReader(data))
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		for _, e := range l.Entries() {
			if e.Line < 1 || e.Vendor == "" || len(e.User) > MaxField {
				t.Fatalf("bad entry %+v", e)
			}
		}
		e, ok := l.Match(user, password)
		if ok != l.IsDefault(user, password) {
			t.Fatal("Match and IsDefault disagree")
		}
		if ok && e.User != "" && !strings.EqualFold(strings.ToLower(e.User), strings.ToLower(user)) {
			t.Fatalf("matched entry user %q for %q", e.User, user)
		}
		_ = l.IsWeakPassword(user, password)
	})
}

func BenchmarkIsDefault(b *testing.B) {
	l := Defaults()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i&1 == 0 {
			l.IsDefault("Admin", "admin")
		} else {
			l.IsDefault("support", "letmein")
		}
	}
}

func BenchmarkDefaults(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Defaults()
	}
}

func TestMerge(t *testing.T) {
	site, err := Load(strings.NewReader("vendor,product,user,password,source\nAcme,Pump 3,biomed,Acme2020!,site list\nOther,X,admin,admin,site copy\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := Merge(Defaults(), site)
	if !m.IsDefault("biomed", "Acme2020!") || !m.IsDefault("admin", "admin") || m.IsDefault("biomed", "nope") {
		t.Fatal("merged list misses entries")
	}
	if m.Len() != Defaults().Len()+2 {
		t.Fatalf("len %d", m.Len())
	}
	// The shipped row for admin/admin wins over the site's copy.
	if e, _ := m.Match("admin", "admin"); e.Source == "site copy" {
		t.Fatalf("site list overrode the shipped source: %+v", e)
	}
}
