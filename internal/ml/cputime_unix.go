//go:build unix

package ml

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used (user + system). Timings
// on a shared machine are stated in CPU time as well as wall time, since
// wall time there counts other programs' turns on the core.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
