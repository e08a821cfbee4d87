//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package socket

import (
	"strings"
	"testing"
)

func TestBindToDeviceUnsupported(t *testing.T) {
	l, err := ListenPacket("udp4", "127.0.0.1:0", Options{BindToDevice: "lo0"})
	if err == nil {
		l.Close()
		t.Fatal("BindToDevice accepted")
	}
	if !strings.Contains(err.Error(), "not supported") {
		t.Errorf("error %q does not say it is unsupported", err)
	}
}
