// Package cli is heir's command line and its composition root: the one
// place that knows the concrete types and wires them together. Every
// command runs in-process with the IO it is given, so tests drive it with
// buffers.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
)

// Exit codes, documented in `heir help`.
const (
	ExitOK       = 0 // success
	ExitFindings = 1 // findings present and --fail-on asked to fail on them
	ExitUsage    = 2 // bad usage or unusable input
	ExitInternal = 3 // internal error
)

// env is what a command runs with.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) int
}

func commands() []command {
	return []command{
		{"demo", "run everything in one process with sample traffic and open the dashboard (start here)", runDemo},
		{"analyze", "analyse capture files: devices, protocols and weaknesses", runAnalyze},
		{"serve", "run the hospital node: bus, storage, scoring, web interface and API", runServe},
		{"sense", "run the sensor on interfaces or captures, writing events as JSON lines", runSense},
		{"score", "score every device's risk and the hospital's (RAMA), riskiest first", runScore},
		{"explain", "explain one device's risk score point by point", runExplain},
		{"ml", "train and evaluate flow classifiers (trees, forests, gradient-boosted trees)", runML},
		{"decide", "record an analyst's decision on a vulnerability match (false positive, accepted)", runDecide},
		{"import", "import advisories, KEV, EPSS, NVD, end-of-life data, SBOMs, VEX and inventories", runImport},
		{"feeds", "download and import the vulnerability feeds (heir feeds update)", runFeeds},
		{"sensor", "issue, revoke and list the credentials of sensors that send to this node", runSensor},
		{"version", "print heir's version", runVersion},
		{"help", "show help for heir or a command", nil},
	}
}

// Run runs heir with args (without the program name) and returns the
// process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if len(args) == 0 {
		usage(stderr)
		return ExitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			for _, c := range commands() {
				if c.name == rest[0] && c.run != nil {
					return c.run(e, []string{"--help"})
				}
			}
			fmt.Fprintf(stderr, "heir: unknown command %q\n", rest[0])
			return ExitUsage
		}
		usage(stdout)
		return ExitOK
	}
	for _, c := range commands() {
		if c.name == name && c.run != nil {
			return c.run(e, rest)
		}
	}
	fmt.Fprintf(stderr, "heir: unknown command %q; run 'heir help' for the list\n", name)
	return ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `heir — protect hospitals' electronic medical devices

Usage:
  heir <command> [flags] [arguments]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
Run 'heir <command> --help' for a command's flags.

Exit codes:
  0  success
  1  weaknesses found and --fail-on asked to fail on them
  2  usage error or unusable input (unreadable file, unknown interface)
  3  internal error
`)
}

func runVersion(e *env, args []string) int {
	fs := newFlags("version", "heir version", "Print heir's version and build information.")
	if code, ok := parse(fs, args, e.stderr); !ok {
		return code
	}
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		fmt.Fprintf(e.stdout, "heir %s %s\n", v, bi.GoVersion)
		return ExitOK
	}
	fmt.Fprintf(e.stdout, "heir %s\n", v)
	return ExitOK
}

// newFlags returns a flag set whose usage prints synopsis, description
// and the flags.
func newFlags(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n", synopsis, strings.TrimSpace(description))
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; when it returns ok false the command returns code.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, false
		}
		return ExitUsage, false
	}
	return 0, true
}

// usageError prints a message that says what to do and returns ExitUsage.
func usageError(w io.Writer, cmd, format string, a ...any) int {
	fmt.Fprintf(w, "heir %s: %s\n", cmd, fmt.Sprintf(format, a...))
	fmt.Fprintf(w, "Run 'heir %s --help' for usage.\n", cmd)
	return ExitUsage
}
