//go:build !unix

package cli

import "time"

// rtCPUTime is not measured on this platform.
func rtCPUTime() time.Duration { return 0 }
