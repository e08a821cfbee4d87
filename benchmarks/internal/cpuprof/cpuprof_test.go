package cpuprof

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStartStop(t *testing.T) {
	if err := Start(""); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	if err := Start(path); err != nil {
		t.Fatal(err)
	}
	if err := Stop(); err != nil {
		t.Fatal(err)
	}
	if err := Stop(); err != nil { // a second Stop (the signal handler's) is harmless
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b { // a profile is gzipped protobuf
		t.Fatalf("profile of %d bytes does not start like gzip", len(b))
	}
}
