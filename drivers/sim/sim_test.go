package sim

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

func TestClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Date(2025, 6, 13, 8, 30, 0, 0, time.UTC)
		c := NewClock(start, 60)
		if !c.Now().Equal(start) || c.Start() != start || c.Speed() != 60 {
			t.Fatalf("new clock reads %s", c.Now())
		}
		if d := c.Until(start.Add(2 * time.Minute)); d != 2*time.Second {
			t.Fatalf("until 2 simulated minutes: %s, want 2s", d)
		}
		var wg sync.WaitGroup
		for range 4 { // readers race with nothing: the clock is immutable
			wg.Go(func() { _ = c.Now() })
		}
		wg.Wait()
		time.Sleep(1500 * time.Millisecond) // advances the bubble's fake clock
		if got, want := c.Now(), start.Add(90*time.Second); !got.Equal(want) {
			t.Fatalf("after 1.5 s: %s, want %s", got, want)
		}
		if d := c.Until(start); d != -1500*time.Millisecond {
			t.Fatalf("until the start: %s", d)
		}
	})
}

// TestRunPaces checks that each event arrives when the clock reaches its
// time: with speed 60, a simulated minute of events within a real second.
func TestRunPaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := demoOpts(t, 1)
		o.Speed = 60
		s, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		ref := mustPlan(t, o)
		ctx, cancel := context.WithCancel(t.Context())
		out := make(chan edge.Event)
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, out) }()

		start := s.Clock().Start()
		n := 0
		for {
			ev := <-out
			want, _ := ref.Next()
			if !reflect.DeepEqual(ev, want) {
				t.Fatalf("event %d: %+v, want the plan's %+v", n, ev, want)
			}
			n++
			real := time.Since(begin)
			due := time.Duration(float64(ev.Time.Sub(start)) / o.Speed)
			if real < due || real > due+time.Millisecond {
				t.Fatalf("event %d at simulated +%s arrived after %s real, want %s",
					n, ev.Time.Sub(start), real, due)
			}
			if now := s.Clock().Now(); now.Before(ev.Time) {
				t.Fatalf("event %d at %s arrived when the clock read %s", n, ev.Time, now)
			}
			if ev.Time.Sub(start) > 2*time.Hour {
				break
			}
			if n%50 == 0 {
				_ = s.Stats() // read concurrently with Run
			}
		}
		if st := s.Stats(); st.Events != uint64(n) || st.Shoppers == 0 {
			t.Errorf("stats %+v after %d events", st, n)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
		if err := s.Run(t.Context(), out); !errors.Is(err, ErrRunning) {
			t.Fatalf("second Run: %v, want ErrRunning", err)
		}
	})
}

// TestRunCancel cancels Run while it waits for the next event and while it
// waits for the receiver.
func TestRunCancel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start time.Duration // simulated start relative to opening
		wait  time.Duration // real time to let pass before cancelling
	}{
		{"waiting for the next event", -time.Hour, 0},
		{"blocked on send", 0, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := demoOpts(t, 1)
				o.Start = o.Start.Add(tc.start)
				s, err := New(o)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				go func() { done <- s.Run(ctx, make(chan edge.Event)) }()
				time.Sleep(tc.wait) // fake time: an hour of shoppers falls due
				synctest.Wait()     // Run is durably blocked
				cancel()
				if err := <-done; err != nil {
					t.Fatalf("Run: %v", err)
				}
				if st := s.Stats(); st.Events != 0 {
					t.Fatalf("sent %d events to nobody", st.Events)
				}
			})
		})
	}
}

// TestRunEnds runs a whole day fast and checks Run returns at its end,
// having sent exactly the plan.
func TestRunEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := demoOpts(t, 2)
		o.Days = 1
		o.Speed = 3600
		s, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		ref := mustPlan(t, o)
		want := drain(t, ref)
		out := make(chan edge.Event, 64)
		done := make(chan error, 1)
		go func() { done <- s.Run(t.Context(), out); close(out) }()
		var got []edge.Event
		for ev := range out {
			got = append(got, ev)
		}
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Run sent %d events, want the plan's %d", len(got), len(want))
		}
		if s.Stats() != ref.Stats() {
			t.Errorf("Run stats %+v, plan stats %+v", s.Stats(), ref.Stats())
		}
	})
}
