// Package llibaes lets the nbio benchmark servers negotiate AES-GCM like
// the crypto/tls servers they are compared with.
//
// llib's crypto/tls fork (github.com/lesismal/llib/std/crypto/tls v1.2.5)
// decides whether the CPU has AES-GCM hardware from its own copy of
// internal/cpu, whose Initialize nothing calls: every feature flag stays
// false, so the fork believes no CPU has AES-NI and moves the client's
// AES-GCM suites behind ChaCha20-Poly1305. Against a Go client on an
// AES-NI machine an nbio server thus negotiates TLS_CHACHA20_POLY1305_SHA256
// where crypto/tls negotiates TLS_AES_128_GCM_SHA256, and bulk transfers
// measure the cipher rather than the server. PreferAESGCM sets the fork's
// flag to the standard library's answer for this machine (the fork's AES
// itself is crypto/aes, with its assembly).
package llibaes

import (
	_ "unsafe" // go:linkname

	_ "github.com/lesismal/llib/std/crypto/tls" // defines the variable below
	"golang.org/x/sys/cpu"
)

//go:linkname hasAESGCMHardwareSupport github.com/lesismal/llib/std/crypto/tls.hasAESGCMHardwareSupport
var hasAESGCMHardwareSupport bool

// PreferAESGCM makes the fork prefer AES-GCM when this CPU has AES and
// carry-less multiplication (amd64) or AES and PMULL (arm64), as
// crypto/tls does. Call it before the first handshake. It reports the
// flag's new value.
func PreferAESGCM() bool {
	hasAESGCMHardwareSupport = cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ || cpu.ARM64.HasAES && cpu.ARM64.HasPMULL
	return hasAESGCMHardwareSupport
}

// Enabled reports the fork's flag.
func Enabled() bool { return hasAESGCMHardwareSupport }
