//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"context"
	"net"
	"net/netip"
	"testing"
)

func TestNeedsLookup(t *testing.T) {
	for _, tc := range []struct {
		network, address string
		want             bool
	}{
		{"tcp", "127.0.0.1:80", false},
		{"tcp", "[::1]:80", false},
		{"tcp", ":80", false},
		{"tcp", "localhost:80", true},
		{"tcp", "127.0.0.1:http", true},
		{"udp", "example.com:53", true},
		{"unix", "/tmp/x.sock", false},
		{"tcp", "no-port", false}, // ResolveDial reports it
	} {
		if got := NeedsLookup(tc.network, tc.address); got != tc.want {
			t.Errorf("NeedsLookup(%q, %q) = %v, want %v", tc.network, tc.address, got, tc.want)
		}
	}
}

func TestResolveDialWithoutLookup(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		network, address string
		want             netip.AddrPort
		path             string
	}{
		{"tcp", "127.0.0.1:80", netip.MustParseAddrPort("127.0.0.1:80"), ""},
		{"tcp", ":80", netip.MustParseAddrPort("127.0.0.1:80"), ""},
		{"tcp6", ":80", netip.MustParseAddrPort("[::1]:80"), ""},
		{"udp", "[::ffff:10.0.0.1]:53", netip.MustParseAddrPort("[::ffff:10.0.0.1]:53"), ""},
		{"unix", "/tmp/x.sock", netip.AddrPort{}, "/tmp/x.sock"},
	} {
		ap, path, err := ResolveDial(ctx, tc.network, tc.address)
		if err != nil || ap != tc.want || path != tc.path {
			t.Errorf("ResolveDial(%q, %q) = %v %q %v, want %v %q", tc.network, tc.address, ap, path, err, tc.want, tc.path)
		}
	}
	var unknown net.UnknownNetworkError
	if _, _, err := ResolveDial(ctx, "sctp", "127.0.0.1:1"); err == nil {
		t.Error("ResolveDial accepted an unknown network")
	} else if _, ok := err.(net.UnknownNetworkError); !ok {
		t.Errorf("unknown network: %T %v, want %T", err, err, unknown)
	}
	if _, _, err := ResolveDial(ctx, "unix", ""); err == nil {
		t.Error("ResolveDial accepted an empty socket path")
	}
}
