//go:build race

package mill

// raceEnabled: the race detector multiplies memory use, so RSS bounds
// are checked only without it.
const raceEnabled = true
