package rfid

import (
	"testing"
	"time"
)

func TestDebouncer(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	a, b := []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8}
	d := NewDebouncer(1500 * time.Millisecond)
	steps := []struct {
		uid  []byte
		at   time.Duration
		want bool
	}{
		{a, 0, true},                        // first sight
		{a, 250 * time.Millisecond, false},  // the reader repeats while the card rests
		{a, 1600 * time.Millisecond, false}, // still resting: each sighting extends the presence
		{b, 1700 * time.Millisecond, true},  // another card meanwhile
		{a, 3200 * time.Millisecond, true},  // a gone for 1.6 s: a new presentation
		{a, 3100 * time.Millisecond, true},  // the clock went back: report rather than swallow
	}
	for i, s := range steps {
		if got := d.Seen(s.uid, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d (card %x at %s): %v, want %v", i, s.uid, s.at, got, s.want)
		}
	}
	z := NewDebouncer(0)
	if !z.Seen(a, t0) || !z.Seen(a, t0) {
		t.Error("a zero window must report every sighting")
	}
}

func TestDebouncerForgetsOldCards(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	d := NewDebouncer(time.Second)
	for i := range 1000 {
		d.Seen([]byte{byte(i), byte(i >> 8)}, t0.Add(time.Duration(i)*time.Second))
	}
	if n := len(d.last); n > 65 {
		t.Errorf("%d cards remembered, want old ones forgotten", n)
	}
}
