//go:build race

package websocket

// confVolumeDiv divides the message counts of the volume cases
// (TestConformance9Volume): the race detector slows every byte the
// client masks and the server unmasks and validates by an order of
// magnitude, and the harness must stay within its time budget.
const confVolumeDiv = 10
