//go:build race

package rama

// raceEnabled: the race detector makes sync.Pool drop items, so the
// allocation test cannot hold.
const raceEnabled = true
