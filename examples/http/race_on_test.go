//go:build race

package main

// raceEnabled: the race detector slows the load tests down many times,
// so they send less under it, and memory bounds are not checked.
const raceEnabled = true
