package edge

import (
	"sort"
	"time"
)

// IntervalStart returns the start of the counting interval of length d that
// contains t, aligned to local midnight in loc. d must divide a day. On days
// when clocks change, intervals stay aligned to the local wall clock: the
// repeated hour of autumn yields its intervals twice, the skipped hour of
// spring yields none.
func IntervalStart(t time.Time, loc *time.Location, d time.Duration) time.Time {
	lt := t.In(loc)
	_, off := lt.Zone()
	wall := lt.Unix() + int64(off) // seconds of local wall-clock time
	step := int64(d / time.Second)
	r := wall % step
	if r < 0 {
		r += step
	}
	start := wall - r // the interval's start, in wall-clock seconds
	// The start may have another UTC offset than t when the clocks changed
	// inside the interval: resolve it with the offset in force there.
	a := time.Unix(start-int64(off), 0).In(loc)
	_, offA := a.Zone()
	if offA == off {
		return a
	}
	b := time.Unix(start-int64(offA), 0).In(loc)
	if _, offB := b.Zone(); offB == offA {
		return b
	}
	// The wall-clock start does not exist (it fell in the skipped hour):
	// the interval starts when the clocks jumped.
	if a.After(b) {
		return a
	}
	return b
}

// NextInterval returns the start of the interval after the one starting at
// start.
func NextInterval(start time.Time, loc *time.Location, d time.Duration) time.Time {
	n := IntervalStart(start.Add(d), loc, d)
	if !n.After(start) {
		// A day-long interval on a 25-hour day: skip past the extra hour.
		n = IntervalStart(start.Add(d+time.Hour), loc, d)
	}
	return n
}

// doorCount is one door's crossings.
type doorCount struct {
	In       int `json:"in"`
	Out      int `json:"out"`
	InToday  int `json:"in_today"`
	OutToday int `json:"out_today"`
}

// footfall is the engine's door-counting state. It is also the engine's
// checkpoint, committed with the footfall events derived from it.
type footfall struct {
	IntervalStart time.Time             `json:"interval_start"`
	Day           string                `json:"day"` // local date of the today counters
	Occupancy     int                   `json:"occupancy"`
	Doors         map[string]*doorCount `json:"doors"`
}

func newFootfall(doors []string) *footfall {
	f := &footfall{Doors: map[string]*doorCount{}}
	for _, d := range doors {
		f.Doors[d] = &doorCount{}
	}
	return f
}

// cross counts n people crossing door in dir. Occupancy never goes below
// zero: more exits than entries (a missed entry, a counter's drift) clamp it.
func (f *footfall) cross(door string, dir Direction, n int) bool {
	d := f.Doors[door]
	if d == nil || n <= 0 {
		return false
	}
	switch dir {
	case In:
		d.In += n
		d.InToday += n
		f.Occupancy += n
	case Out:
		d.Out += n
		d.OutToday += n
		f.Occupancy = max(0, f.Occupancy-n)
	default:
		return false
	}
	return true
}

// close returns the footfall records of the open interval, ending at end,
// and resets the interval counters.
func (f *footfall) close(end time.Time) []Footfall {
	names := make([]string, 0, len(f.Doors))
	for n := range f.Doors {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Footfall, 0, len(names))
	for _, n := range names {
		d := f.Doors[n]
		out = append(out, Footfall{Door: n, Start: f.IntervalStart, End: end, In: d.In, Out: d.Out, Occupancy: f.Occupancy})
		d.In, d.Out = 0, 0
	}
	return out
}

// newDay resets the today counters when the local date changed.
func (f *footfall) newDay(day string) {
	if f.Day == day {
		return
	}
	f.Day = day
	for _, d := range f.Doors {
		d.InToday, d.OutToday = 0, 0
	}
}

func (f *footfall) stats() []DoorStats {
	out := make([]DoorStats, 0, len(f.Doors))
	for n, d := range f.Doors {
		out = append(out, DoorStats{Door: n, In: d.In, Out: d.Out, InToday: d.InToday, OutToday: d.OutToday})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Door < out[j].Door })
	return out
}
