//go:build !race

package mill

const raceEnabled = false
