package codec

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestFixedDecode(t *testing.T) {
	c := Must(NewFixed(FixedConfig{Length: 3}))
	runDecodeCases(t, c, 3, []decodeCase{
		{in: ""},
		{in: "ab"},
		{in: "abc", frame: "abc", n: 3},
		{in: "abcdefg", frame: "abc", n: 3},
		{in: "\x00\n\r", frame: "\x00\n\r", n: 3},
	})

	one := Must(NewFixed(FixedConfig{Length: 1}))
	runDecodeCases(t, one, 1, []decodeCase{
		{in: ""},
		{in: "xy", frame: "x", n: 1},
	})
}

func TestFixedConfig(t *testing.T) {
	for _, n := range []int{0, -1} {
		if _, err := NewFixed(FixedConfig{Length: n}); err == nil {
			t.Errorf("Length %d accepted", n)
		}
	}
}

func TestFixedEncode(t *testing.T) {
	c := Must(NewFixed(FixedConfig{Length: 3}))
	for _, tc := range []struct {
		frame string
		err   error
	}{
		{"abc", nil},
		{"abcd", ErrFrameTooLong},
		{"ab", ErrCorruptFrame},
		{"", ErrCorruptFrame},
	} {
		dst := []byte("prefix:")
		out, err := c.Encode(dst, []byte(tc.frame))
		want := "prefix:"
		if tc.err == nil {
			want += tc.frame
		}
		if !errors.Is(err, tc.err) || string(out) != want {
			t.Errorf("Encode(%q) = %q, %v; want %q, %v", tc.frame, out, err, want, tc.err)
		}
	}
}

func TestFixedStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, size := range []int{1, 2, 7} {
		c := Must(NewFixed(FixedConfig{Length: size}))
		frames := make([][]byte, 40)
		for i := range frames {
			frames[i] = make([]byte, size)
			for j := range frames[i] {
				frames[i][j] = byte(rng.Uint32())
			}
		}
		checkStream(t, c, size, frames, nil)
	}
}
