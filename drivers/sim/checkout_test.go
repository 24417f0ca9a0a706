package sim

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// planItems returns every item of a finite plan, checkouts included.
func planItems(t *testing.T, p *Plan) []item {
	t.Helper()
	var its []item
	for {
		it, ok := p.pop()
		if !ok {
			return its
		}
		p.stats.add(&it)
		its = append(its, it)
		if len(its) > 2_000_000 {
			t.Fatal("plan does not end")
		}
	}
}

// TestCheckouts checks three days of checkouts at the demo store's lanes: a
// lane serves one shopper at a time; an identified checkout is followed by
// its member's read at that lane; anonymous baskets are most of them; a
// shopper who buys pays before leaving through the door.
func TestCheckouts(t *testing.T) {
	for _, tc := range []struct {
		name       string
		edit       func(*Opts)
		anonLo     float64 // share of anonymous checkouts
		conversion [2]float64
		buys       bool
	}{
		{"demo store", func(*Opts) {}, 0.6, [2]float64{0.5, 0.72}, true},
		{"no members", func(o *Opts) { o.Members = nil }, 1, [2]float64{0.5, 0.72}, true},
		{"door readers and staff", func(o *Opts) {
			o.Devices = withDoorReaders(o.Devices)
			o.Members = append(o.Members, Staff(8, o.Seed, o.Members)...)
		}, 0.6, [2]float64{0.5, 0.72}, true},
		{"no lanes", func(o *Opts) {
			o.Devices = slices.DeleteFunc(o.Devices, func(d configs.Device) bool { return d.Lane != "" })
		}, 1, [2]float64{0, 0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := demoOpts(t, 4)
			o.Days = 3 // Friday, Saturday and a Sunday morning
			tc.edit(&o)
			laneOf := map[string]string{}
			for _, d := range o.Devices {
				laneOf[d.Name] = d.Lane
			}
			members := map[string]edge.MemberRecord{}
			for _, m := range o.Members {
				members[m.Member.ID] = m
			}
			p := mustPlan(t, o)
			its := planItems(t, p)
			st := p.Stats()
			t.Logf("%+v", st)

			byLane := map[string][]*Checkout{}
			for i, it := range its {
				co := it.co
				if co == nil {
					continue
				}
				if it.ev.Time != co.Start || it.ev.Kind != "" {
					t.Fatalf("checkout item %+v", it)
				}
				if err := edge.ValidateLines(co.Lines); err != nil || len(co.Lines) == 0 {
					t.Fatalf("checkout lines %+v: %v", co.Lines, err)
				}
				byLane[co.Lane] = append(byLane[co.Lane], co)
				if co.Member == "" {
					continue
				}
				if m, ok := members[co.Member]; !ok || m.Member.Staff {
					t.Fatalf("checkout of %q, not a shopping member", co.Member)
				}
				// The next event at this lane identifies the member.
				j := slices.IndexFunc(its[i+1:], func(x item) bool { return x.co == nil && laneOf[x.ev.Source] == co.Lane })
				if j < 0 {
					t.Fatalf("identified checkout %+v: no read at the lane", co)
				}
				ev := its[i+1+j].ev
				m := members[co.Member]
				if d := ev.Time.Sub(co.Start); d < 2*time.Second || d > 6*time.Second ||
					!(ev.Card != nil && slices.ContainsFunc(m.Cards, func(c []byte) bool { return string(c) == string(ev.Card.UID) }) ||
						ev.Scan != nil && ev.Scan.Code == m.Loyalty) {
					t.Fatalf("identified checkout %+v followed by %+v", co, ev)
				}
			}
			if tc.buys != (st.Checkouts > 0) {
				t.Fatalf("%d checkouts", st.Checkouts)
			}
			for lane, cos := range byLane {
				for k := 1; k < len(cos); k++ {
					if cos[k].Start.Before(cos[k-1].End) {
						t.Fatalf("lane %s: checkout at %s before the previous ends at %s", lane, cos[k].Start, cos[k-1].End)
					}
				}
			}
			if st.Buyers != st.Checkouts || st.Anonymous+st.Identified != st.Checkouts {
				t.Errorf("stats %+v: buyers and checkouts differ", st)
			}
			if conv := float64(st.Buyers) / float64(st.Shoppers); conv < tc.conversion[0] || conv > tc.conversion[1] {
				t.Errorf("conversion %.3f outside %v", conv, tc.conversion)
			}
			if st.Checkouts > 0 {
				if a := float64(st.Anonymous) / float64(st.Checkouts); a < tc.anonLo {
					t.Errorf("anonymous share %.3f below %.2f", a, tc.anonLo)
				}
				basket := float64(st.Spend) / 100 / float64(st.Checkouts)
				units := float64(st.Units) / float64(st.Checkouts)
				if basket < 15 || basket > 50 || units < 5 || units > 15 {
					t.Errorf("average basket %.2f for %.1f units", basket, units)
				}
			}
		})
	}
}

// TestConversionByHour checks that shoppers buy at 40% to 80% in every
// hour with enough of them, more in the morning than in mid-afternoon.
func TestConversionByHour(t *testing.T) {
	o := demoOpts(t, 6)
	p := mustPlan(t, o)
	type hour struct{ in, bought int }
	var hours [24]hour
	for d := 13; d < 20; d++ { // Friday 13 to Thursday 19 June 2025
		stories, _ := p.day(2025, time.June, d)
		for _, s := range stories {
			if s[0].tag&tagArrive == 0 {
				continue // staff
			}
			h := &hours[s[0].ev.Time.Hour()]
			h.in++
			if s[len(s)-1].tag&tagBought != 0 {
				h.bought++
			}
		}
	}
	conv := func(h int) float64 { return float64(hours[h].bought) / float64(hours[h].in) }
	for h, v := range hours {
		if v.in < 300 {
			continue
		}
		t.Logf("%02d:00 %4d shoppers, %.2f bought", h, v.in, conv(h))
		if c := conv(h); c < 0.4 || c > 0.8 {
			t.Errorf("%02d:00: conversion %.3f outside 0.4..0.8", h, c)
		}
	}
	if !(conv(9) > conv(15) && conv(19) > conv(15)) {
		t.Errorf("conversion at 09:00 %.2f, 15:00 %.2f, 19:00 %.2f: want mid-afternoon lowest", conv(9), conv(15), conv(19))
	}
}

// TestRunTill checks that Run hands each checkout to the till at its
// start, in plan order with the events: before the read that identifies
// its member.
func TestRunTill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := demoOpts(t, 3)
		o.Speed = 3600
		o.Days = 1
		type seen struct {
			co *Checkout
			ev *edge.Event
		}
		type handed struct {
			co    Checkout
			after uint64 // events sent before it
			now   time.Time
		}
		var (
			mu    sync.Mutex
			tills []handed
			s     *Sim
		)
		o.Till = func(c Checkout) {
			// Run calls the till between sends: its stats say how many
			// events went before.
			h := handed{co: c, after: s.Stats().Events, now: s.Clock().Now()}
			mu.Lock()
			tills = append(tills, h)
			mu.Unlock()
		}
		s, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		out := make(chan edge.Event)
		done := make(chan error, 1)
		go func() { done <- s.Run(context.Background(), out); close(out) }()
		var events []edge.Event
		for ev := range out {
			events = append(events, ev)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		var got []seen
		k := 0
		for i := range events {
			for ; k < len(tills) && tills[k].after == uint64(i); k++ {
				if tills[k].now.Before(tills[k].co.Start) {
					t.Fatalf("checkout handed over at %s, before its start %s", tills[k].now, tills[k].co.Start)
				}
				got = append(got, seen{co: &tills[k].co})
			}
			got = append(got, seen{ev: &events[i]})
		}
		for ; k < len(tills); k++ {
			got = append(got, seen{co: &tills[k].co})
		}

		o.Till = nil
		ref := mustPlan(t, o)
		var want []seen
		for _, it := range planItems(t, ref) {
			if it.co != nil {
				want = append(want, seen{co: it.co})
			} else {
				want = append(want, seen{ev: &it.ev})
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Run gave %d events and checkouts, not the plan's %d", len(got), len(want))
		}
		if s.Stats() != ref.Stats() || s.Stats().Checkouts == 0 {
			t.Errorf("Run stats %+v, plan stats %+v", s.Stats(), ref.Stats())
		}
	})
}
