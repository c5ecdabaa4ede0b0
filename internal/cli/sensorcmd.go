package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/heir-emd/heir/internal/bus"
)

// runSensor manages the sensors a node accepts: heir sensor add|revoke|list.
func runSensor(e *env, args []string) int {
	fs := newFlags("sensor", "heir sensor add [flags] NAME | revoke [flags] NAME | list [flags]", `
Manage the sensors allowed to publish to this node's bus. 'add' issues a
sensor's credentials file (shown once: the node keeps only the public key),
'revoke' disconnects the sensor and refuses it from then on (a running node
applies it within a second), 'list' shows them.`)
	dataDir := fs.String("data", defaultDataDir(), "the node's data `DIR`")
	url := fs.String("url", "", "with add: the node's bus `URLS` (comma-separated, e.g. tls://node.hospital.lan:4222) written into the credentials")
	ca := fs.String("ca", "", "with add: the bus's CA certificate `FILE` (PEM) written into the credentials, for TLS")
	out := fs.String("out", "", "with add: the credentials `FILE` to write (default NAME.creds; never overwritten)")
	asJSON := fs.Bool("json", false, "with list: print JSON")
	verb := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	if code, ok := parse(fs, args, e.stderr); !ok {
		return code
	}
	reg := bus.NewRegistry(filepath.Join(*dataDir, "sensors.json"))
	switch {
	case verb == "list" && fs.NArg() == 0:
		list, err := reg.List()
		if err != nil {
			fmt.Fprintf(e.stderr, "heir sensor list: %v\n", err)
			return ExitUsage
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			enc.Encode(list)
			return ExitOK
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tISSUED\tSTATE")
		for _, s := range list {
			state := "active"
			if !s.Active() {
				state = "revoked " + s.Revoked.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", s.Name, s.Issued.Format(time.RFC3339), state)
		}
		w.Flush()
		return ExitOK
	case verb == "add" && fs.NArg() == 1:
		name := fs.Arg(0)
		path := *out
		if path == "" {
			path = name + ".creds"
		}
		if _, err := os.Stat(path); err == nil {
			return usageError(e.stderr, "sensor", "%s exists; choose another --out (credentials are never overwritten)", path)
		}
		c, err := reg.Add(name, time.Now())
		if err != nil {
			fmt.Fprintf(e.stderr, "heir sensor add: %v\n", err)
			return ExitUsage
		}
		if *url != "" {
			c.URLs = strings.Split(*url, ",")
		}
		if *ca != "" {
			pem, err := os.ReadFile(*ca)
			if err != nil {
				reg.Revoke(name, time.Now())
				return usageError(e.stderr, "sensor", "--ca: %v", err)
			}
			c.CA = string(pem)
		}
		if err := c.WriteFile(path); err != nil {
			// Credentials nobody holds must not stay valid.
			reg.Revoke(name, time.Now())
			fmt.Fprintf(e.stderr, "heir sensor add: %v (the sensor was revoked again)\n", err)
			return ExitUsage
		}
		fmt.Fprintf(e.stdout, "sensor %s added; its credentials are in %s (keep them secret: copy them to the sensor and delete this copy)\n", name, path)
		if *url == "" {
			fmt.Fprintf(e.stdout, "they name no node address (no --url): start the sensor with --node nats://NODE:4222\n")
		}
		return ExitOK
	case verb == "revoke" && fs.NArg() == 1:
		if err := reg.Revoke(fs.Arg(0), time.Now()); err != nil {
			fmt.Fprintf(e.stderr, "heir sensor revoke: %v\n", err)
			return ExitUsage
		}
		fmt.Fprintf(e.stdout, "sensor %s revoked\n", fs.Arg(0))
		return ExitOK
	}
	return usageError(e.stderr, "sensor", "say add NAME, revoke NAME or list")
}
