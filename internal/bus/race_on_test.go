//go:build race

package bus

// raceEnabled: the race detector slows the pure-Go SQLite of the crash
// test's node by two orders of magnitude, so that test runs smaller.
const raceEnabled = true
