//go:build !race

package rama

const raceEnabled = false
