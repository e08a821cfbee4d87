//go:build race

package bufferpool

// raceEnabled reports whether the race detector is on. It makes sync.Pool drop
// a random share of Puts, so allocation counts are meaningless.
const raceEnabled = true
