package ui_test

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/cli"
)

// startDemo runs `heir demo` in this process, on a free port with three
// days of history, and reads the address and the users' one-time
// passwords from what it prints.
func startDemo(t *testing.T) *Node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--days", "3"}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("heir demo did not stop within 30 s of being cancelled")
		}
	})
	n := &Node{Users: map[string]Cred{}}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case <-deadline:
			t.Fatal("heir demo did not start within two minutes")
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("heir demo ended before it was ready (exit %d)", <-done)
			}
			f := strings.Fields(line)
			switch {
			case strings.HasPrefix(line, "heir demo is running at "):
				n.URL = strings.TrimSuffix(f[len(f)-1], "/")
			case strings.Contains(line, "with one-time password") && len(f) >= 2:
				name := f[len(f)-5]
				n.Users[name] = Cred{Name: name, Password: f[len(f)-1]}
			case strings.Contains(line, "replays as live traffic"):
				go func() {
					for range lines { // keep the writer from blocking
					}
				}()
				for _, role := range []string{"analyst", "viewer", "auditor"} {
					if n.Users[role].Password == "" {
						t.Fatalf("heir demo printed no password for %s", role)
					}
				}
				return n
			}
		}
	}
}
