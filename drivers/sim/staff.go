package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// staffWorks is the probability that a staff member works on a given day.
const staffWorks = 5.0 / 7

// staffClear is how far other crossings of the staff door stay from a
// staff badge and crossing.
const staffClear = 6 * time.Second

// Staff returns n demo staff, deterministic in seed: member records with
// ids S0001, S0002, …, a first name, Staff set, stage active and one card
// each (UIDs as Members draws them), and no barcode, segment, affinity or
// matrix. Their card UIDs differ from those of taken (the member base they
// join).
//
// Among Opts.Members, staff never shop: no shopper is ever drawn among
// them, and their cards are read only at the staff door, the first door
// with a simulated reader. A store without such a door has no simulated
// staff crossings (its staff use a door nobody counts).
//
// Each trading day, each staff member works with probability 5/7, one
// shift. On a day open more than nine hours: an opening shift (in 20 to 40
// minutes before opening, about eight hours; 40%), a middle shift (in two
// to three and a half hours after opening, about eight hours or until 10
// minutes after closing; 20%) or a closing shift (out 10 to 30 minutes
// after closing, about eight hours; 40%). On a shorter day: from 15 to 35
// minutes before opening to 10 to 25 minutes after closing. A shift of six
// hours or more has a meal break of 30 to 45 minutes around its middle,
// taken outside with probability 0.7; any shift has a short break of 8 to
// 15 minutes outside with probability 0.35, in its first or last quarter.
// Every time a staff member crosses the staff door, in or out, they badge
// their card at the door's reader one to three seconds before. A crossing
// is placed so that no other crossing of that door happens from six
// seconds before the badge to six seconds after the crossing (moving it
// later by up to ten minutes when the door is busy): the engine cannot
// take a shopper for them.
//
// A stretch in the store (in, then out) is a stint. A simulation starting
// in the middle of a stint leaves it out whole, as it does a shopper who
// came in before the start.
func Staff(n int, seed uint64, taken []edge.MemberRecord) []edge.MemberRecord {
	r := rand.New(rand.NewPCG(seed, streamStaff))
	uids := map[string]bool{}
	for _, rec := range taken {
		for _, c := range rec.Cards {
			uids[string(c)] = true
		}
	}
	out := make([]edge.MemberRecord, 0, max(n, 0))
	for i := range n {
		out = append(out, edge.MemberRecord{
			Member: edge.Member{
				ID:        fmt.Sprintf("S%04d", i+1),
				FirstName: firstNames[r.IntN(len(firstNames))],
				Stage:     edge.StageActive,
				Staff:     true,
			},
			Cards: [][]byte{uniqueUID(r, uids)},
		})
	}
	return out
}

// staffMember is what the plan keeps of a staff member.
type staffMember struct {
	cards [][]byte
}

// shift is one staff member's day: the instants they cross the staff door,
// alternately in and out, starting in.
type shift []time.Time

// shifts draws the day's shifts of the plan's staff, in staff order, for a
// day open from open to close (day is its local midnight).
func (p *Plan) shifts(r *rand.Rand, day, open, close time.Time) []shift {
	shifts := make([]shift, len(p.staff))
	length := close.Sub(open)
	for i := range p.staff {
		if r.Float64() >= staffWorks {
			continue
		}
		var in, leave time.Time
		switch {
		case length <= 9*time.Hour:
			in = open.Add(-between(r, 15*time.Minute, 35*time.Minute))
			leave = close.Add(between(r, 10*time.Minute, 25*time.Minute))
		case r.Float64() < 0.4: // opening
			in = open.Add(-between(r, 20*time.Minute, 40*time.Minute))
			leave = in.Add(between(r, 7*time.Hour+30*time.Minute, 8*time.Hour+15*time.Minute))
		case r.Float64() < 1.0/3: // middle: the lunch and evening peaks
			in = open.Add(between(r, 2*time.Hour, 3*time.Hour+30*time.Minute))
			leave = in.Add(between(r, 7*time.Hour+30*time.Minute, 8*time.Hour+15*time.Minute))
			if limit := close.Add(10 * time.Minute); leave.After(limit) {
				leave = limit
			}
		default: // closing
			leave = close.Add(between(r, 10*time.Minute, 30*time.Minute))
			in = leave.Add(-between(r, 7*time.Hour+30*time.Minute, 8*time.Hour+15*time.Minute))
		}
		in = latest(in, day.Add(time.Minute)) // a day's items never precede its midnight
		s := shift{in}
		d := leave.Sub(in)
		var meal [2]time.Time
		if d >= 6*time.Hour && r.Float64() < 0.7 {
			meal[0] = in.Add(frac(r, d, 0.45, 0.55))
			meal[1] = meal[0].Add(between(r, 30*time.Minute, 45*time.Minute))
		}
		var short [2]time.Time
		if r.Float64() < 0.35 {
			at := frac(r, d, 0.15, 0.25)
			if r.IntN(2) == 1 {
				at = frac(r, d, 0.75, 0.85)
			}
			short[0] = in.Add(at)
			short[1] = short[0].Add(between(r, 8*time.Minute, 15*time.Minute))
		}
		// The breaks never overlap: the short one ends before 35% of the
		// shift or starts after 75%, the meal lies within 45% to 70%
		// (at most 55% plus 45 minutes of a shift of at least six hours).
		for _, b := range [][2]time.Time{short, meal} {
			if !b[0].IsZero() {
				s = append(s, b[0], b[1])
			}
		}
		slices.SortFunc(s, time.Time.Compare)
		shifts[i] = append(s, leave)
	}
	return shifts
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// staffStints plans the day's staff stints at the staff door: each a story
// of a badge and an In crossing, then a badge and an Out crossing. busy
// holds the times of the day's other crossings of that door, sorted; the
// staff crossings are added to it.
func (p *Plan) staffStints(r *rand.Rand, shifts []shift, busy []time.Time) []story {
	d := &p.store.doors[p.store.staffDoor]
	type crossingAt struct {
		staff, k int // staff index, crossing index in the shift
	}
	var order []crossingAt
	for i, s := range shifts {
		for k := range s {
			order = append(order, crossingAt{i, k})
		}
	}
	// Place the crossings in time order, each clear of those before it.
	slices.SortStableFunc(order, func(a, b crossingAt) int {
		return shifts[a.staff][a.k].Compare(shifts[b.staff][b.k])
	})
	type placed struct{ badge, cross time.Time }
	at := make([][]placed, len(shifts))
	for i, s := range shifts {
		at[i] = make([]placed, len(s))
	}
	for _, c := range order {
		lead := between(r, time.Second, 3*time.Second)
		t := shifts[c.staff][c.k]
		limit := 10 * time.Minute // never past the member's next crossing
		if s := shifts[c.staff]; c.k+1 < len(s) {
			limit = min(limit, s[c.k+1].Sub(t)-time.Minute)
		}
		for step := time.Duration(0); step < limit; step += time.Second {
			if clearOf(busy, t.Add(step-lead-staffClear), t.Add(step+staffClear)) {
				t = t.Add(step)
				break
			}
		}
		at[c.staff][c.k] = placed{t.Add(-lead), t}
		i, _ := slices.BinarySearchFunc(busy, t, time.Time.Compare)
		busy = slices.Insert(busy, i, t)
	}
	var out []story
	for i, s := range at {
		st := &p.staff[i]
		if len(st.cards) == 0 {
			continue
		}
		for k := 0; k+1 < len(s); k += 2 {
			var stint story
			for j, dir := range []edge.Direction{edge.In, edge.Out} {
				pl := s[k+j]
				reader := d.readers[r.IntN(len(d.readers))]
				stint.add(pl.badge, tagStaff, cardRead(reader, slices.Clone(st.cards[r.IntN(len(st.cards))])))
				stint.add(pl.cross, tagStaff, crossing(d.counter, dir))
			}
			out = append(out, stint)
		}
	}
	return out
}

// clearOf reports whether no time of sorted lies within [from, to].
func clearOf(sorted []time.Time, from, to time.Time) bool {
	i, _ := slices.BinarySearchFunc(sorted, from, time.Time.Compare)
	return i == len(sorted) || sorted[i].After(to)
}
