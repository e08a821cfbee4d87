package wsbcast

import (
	"slices"
	"testing"
)

func TestSet(t *testing.T) {
	var s Set[int]
	for i := range 5 {
		s.Add(i)
	}
	s.Add(3)
	s.Remove(1)
	s.Remove(7)
	got := s.Snapshot(nil)
	slices.Sort(got)
	if !slices.Equal(got, []int{0, 2, 3, 4}) || s.Len() != 4 {
		t.Fatalf("set = %v (len %d)", got, s.Len())
	}
	s.Remove(4)
	s.Remove(0)
	got = s.Snapshot(nil)
	slices.Sort(got)
	if !slices.Equal(got, []int{2, 3}) {
		t.Fatalf("set = %v", got)
	}
}

func TestIsTrigger(t *testing.T) {
	if !IsTrigger(true, []byte("broadcast 12")) || IsTrigger(false, []byte("broadcast")) || IsTrigger(true, []byte("x")) {
		t.Fatal("IsTrigger")
	}
}
