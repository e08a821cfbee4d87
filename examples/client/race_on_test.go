//go:build race

package main

// raceEnabled: the race detector slows a bulk transfer several times
// over, so the large ones are cut down under it.
const raceEnabled = true
