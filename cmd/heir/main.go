// Command heir protects hospitals' electronic medical devices: it reads
// network traffic, finds the devices and what they speak and leak, and
// reports it. See `heir help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/heir-emd/heir/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
