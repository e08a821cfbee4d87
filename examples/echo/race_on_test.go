//go:build race

package main

// raceEnabled: the race detector slows the stream tests down many times,
// so they move less data under it.
const raceEnabled = true
