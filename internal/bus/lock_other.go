//go:build !unix

package bus

import "os"

// lockFile on systems without flock only serialises within one process
// family by creating the file; heir's node runs on Linux.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}
