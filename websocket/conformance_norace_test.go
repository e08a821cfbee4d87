//go:build !race

package websocket

// confVolumeDiv divides the message counts of the volume cases (see
// conformance_race_test.go): without the race detector they run whole.
const confVolumeDiv = 1
