// Package leaktest checks test binaries for leaked goroutines with goleak.
// It is imported only by tests.
package leaktest

import (
	"testing"

	"go.uber.org/goleak"
)

// Options ignores the two housekeeping goroutines of ants' package-level
// default pool, which ants' own init starts in every binary that links it
// (mill's workerpool does). mill never uses that pool; its own pools are
// released and checked like any other goroutine.
func Options() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	}
}

// VerifyTestMain runs the tests, then fails if any goroutine is left
// other than those Options ignores.
func VerifyTestMain(m *testing.M) { goleak.VerifyTestMain(m, Options()...) }
