package sim

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
)

func TestStaffRecords(t *testing.T) {
	ms := Members(3000, 1, time.Date(2025, 6, 13, 8, 30, 0, 0, time.UTC))
	staff := Staff(12, 1, ms)
	if !reflect.DeepEqual(staff, Staff(12, 1, ms)) {
		t.Fatal("same seed gave different staff")
	}
	uids := map[string]bool{}
	for _, m := range ms {
		uids[string(m.Cards[0])] = true
	}
	for i, s := range staff {
		m := s.Member
		if m.ID != fmt.Sprintf("S%04d", i+1) || !m.Staff || m.FirstName == "" ||
			len(s.Cards) != 1 || s.Loyalty != "" || s.List != "" || len(m.Affinity) != 0 || len(m.Matrix) != 0 {
			t.Fatalf("staff %d: %+v", i, s)
		}
		if uids[string(s.Cards[0])] {
			t.Fatalf("%s: card % x taken", m.ID, s.Cards[0])
		}
		uids[string(s.Cards[0])] = true
	}
}

// TestStaffShifts checks the staff's days: they badge at the staff door's
// reader one to three seconds before each crossing of that door, with no
// other crossing of it nearby; they work around the opening hours; they
// never shop; and the shoppers are the same with or without them.
func TestStaffShifts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		start   time.Time
		days    int
		readers bool
		staff   bool // staff crossings expected
	}{
		{"friday", time.Date(2025, 6, 13, 0, 0, 0, 0, paris), 1, true, true},
		{"sunday morning", time.Date(2025, 6, 15, 0, 0, 0, 0, paris), 1, true, true},
		{"three days", time.Date(2025, 6, 13, 0, 0, 0, 0, paris), 3, true, true},
		{"from 14:00", time.Date(2025, 6, 13, 14, 0, 0, 0, paris), 1, true, true},
		{"no door reader", time.Date(2025, 6, 13, 0, 0, 0, 0, paris), 1, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := demoOpts(t, 11)
			o.Start, o.Days = tc.start, tc.days
			if tc.readers {
				o.Devices = withDoorReaders(o.Devices)
			}
			without := planItems(t, mustPlan(t, o))
			staff := Staff(8, o.Seed, o.Members)
			o.Members = append(slices.Clone(o.Members), staff...)
			p := mustPlan(t, o)
			its := planItems(t, p)
			st := p.Stats()

			staffCard := map[string]string{}
			for _, s := range staff {
				staffCard[string(s.Cards[0])] = s.Member.ID
			}
			place := map[string]configs.Device{}
			for _, d := range o.Devices {
				place[d.Name] = d
			}
			// Shoppers are unchanged: the items that are not staff's are
			// the plan without staff.
			var shoppers []item
			for _, it := range its {
				if it.tag&tagStaff == 0 {
					it.seq = 0
					shoppers = append(shoppers, it)
				}
			}
			for i := range without {
				without[i].seq = 0
			}
			if !reflect.DeepEqual(shoppers, without) {
				t.Fatal("staff changed the shoppers")
			}

			var crossings []time.Time // of the staff door
			for _, it := range its {
				if it.co == nil && it.ev.Source == "main-door-counter" {
					crossings = append(crossings, it.ev.Time)
				}
			}
			inside := map[string]bool{} // staff id → in the store
			balance := map[string]int{}
			var pending *item // the last staff badge, waiting for its crossing
			for i, it := range its {
				ev := it.ev
				if it.co != nil {
					if it.co.Member != "" && it.co.Member[0] == 'S' {
						t.Fatalf("staff checkout %+v", it.co)
					}
					continue
				}
				if ev.Kind == edge.KindDoorCrossing {
					balance[ev.Source] += map[edge.Direction]int{edge.In: 1, edge.Out: -1}[ev.Crossing.Dir]
				}
				if ev.Kind == edge.KindCardRead {
					id, isStaff := staffCard[string(ev.Card.UID)]
					if isStaff != (it.tag&tagStaff != 0) {
						t.Fatalf("item %d: staff card %v, tagged %v", i, isStaff, it.tag&tagStaff != 0)
					}
					if !isStaff {
						continue
					}
					if place[ev.Source].Door != "main" || pending != nil {
						t.Fatalf("item %d: %s's badge at %s (pending %+v)", i, id, ev.Source, pending)
					}
					pending = &its[i]
					continue
				}
				if it.tag&tagStaff == 0 {
					continue
				}
				if ev.Kind != edge.KindDoorCrossing || ev.Source != "main-door-counter" || pending == nil {
					t.Fatalf("item %d: staff %s at %s without a badge", i, ev.Kind, ev.Source)
				}
				if d := ev.Time.Sub(pending.ev.Time); d < time.Second || d > 3*time.Second {
					t.Fatalf("item %d: crossing %s after the badge", i, d)
				}
				id := staffCard[string(pending.ev.Card.UID)]
				if inside[id] == (ev.Crossing.Dir == edge.In) {
					t.Fatalf("item %d: %s crosses %s while inside=%v", i, id, ev.Crossing.Dir, inside[id])
				}
				inside[id] = ev.Crossing.Dir == edge.In
				// No other crossing of the door close to the badge and crossing.
				from, to := pending.ev.Time.Add(-staffClear), ev.Time.Add(staffClear)
				k, _ := slices.BinarySearchFunc(crossings, from, time.Time.Compare)
				for ; k < len(crossings) && !crossings[k].After(to); k++ {
					if crossings[k] != ev.Time {
						t.Fatalf("item %d: a crossing at %s near %s's at %s", i, crossings[k], id, ev.Time)
					}
				}
				open, close, _ := demoHours(t).OpeningOn(ev.Time)
				if ev.Time.Before(open.Add(-40*time.Minute)) || ev.Time.After(close.Add(30*time.Minute)) {
					t.Fatalf("item %d: %s crosses at %s, open %s-%s", i, id, ev.Time, open, close)
				}
				pending = nil
			}
			for id, in := range inside {
				if in {
					t.Errorf("%s never left", id)
				}
			}
			for door, b := range balance {
				if b != 0 {
					t.Errorf("door %s: %d more in than out", door, b)
				}
			}
			t.Logf("%d staff crossings, %d badges", st.StaffCrossings, st.StaffBadges)
			if tc.staff != (st.StaffCrossings > 0) || st.StaffBadges != st.StaffCrossings || st.StaffCrossings%2 != 0 {
				t.Errorf("stats %+v", st)
			}
			if st.CardReads != st.MemberTaps+st.UnknownTaps+st.StaffBadges {
				t.Errorf("card reads do not add up: %+v", st)
			}
			if tc.days == 3 { // 8 staff, about 5 days in 7, 2 to 6 crossings a shift
				if n := st.StaffCrossings; n < 3*8*5/7*2*2/3 || n > 3*8*6 {
					t.Errorf("%d staff crossings in three days", n)
				}
			}
		})
	}
}

var paris = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return loc
}()
