// Package registry lists heir's protocol dissectors. It is the one place
// that knows every dissector package; the command line asks it for the set
// to run.
package registry

import (
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/proto/dhcp"
	"github.com/heir-emd/heir/internal/proto/dicom"
	"github.com/heir-emd/heir/internal/proto/dns"
	"github.com/heir-emd/heir/internal/proto/ftp"
	"github.com/heir-emd/heir/internal/proto/hl7"
	httpproto "github.com/heir-emd/heir/internal/proto/http"
	"github.com/heir-emd/heir/internal/proto/mqtt"
	"github.com/heir-emd/heir/internal/proto/smb"
	"github.com/heir-emd/heir/internal/proto/ssh"
	"github.com/heir-emd/heir/internal/proto/telnet"
	"github.com/heir-emd/heir/internal/proto/tls"
)

// Options configure the dissectors.
type Options struct {
	// Defaults checks logins against known default credentials; nil
	// disables the check.
	Defaults DefaultChecker
	// HTTPInspector, if set, sees every HTTP request's raw target, head
	// and first body bytes to find attacks (internal/detect's
	// Engine.Inspector()).
	HTTPInspector httpproto.RequestInspector
}

// DefaultChecker says whether a user name and password pair is a known
// default credential.
type DefaultChecker interface {
	IsDefault(user, password string) bool
}

// All returns a fresh instance of every dissector.
func All(opts Options) []proto.Dissector {
	return []proto.Dissector{
		// Medical protocols first: when two dissectors could claim a
		// stream, the engine asks in this order (after the port's own).
		dicom.New(),
		hl7.New(),
		mqtt.New(opts.Defaults),
		tls.New(),
		httpproto.New(opts.Defaults, httpproto.WithInspector(opts.HTTPInspector)),
		telnet.New(opts.Defaults),
		ftp.New(opts.Defaults),
		smb.New(),
		ssh.New(),
		dns.NewTCP(),
		dns.NewUDP(),
		dns.NewNBNS(),
		dhcp.New(),
		tls.NewDTLS(),
	}
}

// Names returns the names of the dissectors All returns.
func Names() []string {
	var out []string
	for _, d := range All(Options{}) {
		out = append(out, d.Name())
	}
	return out
}
