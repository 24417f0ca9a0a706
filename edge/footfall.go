package edge

import "time"

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

// footfall is the door-counting state that engine checkpoints held before
// the Tracker: restore reads it (as checkpoint.Footfall, or as the whole
// checkpoint in the oldest format) and never writes it.
type footfall struct {
	IntervalStart time.Time              `json:"interval_start"`
	Day           string                 `json:"day"` // local date of the today counters
	Occupancy     int                    `json:"occupancy"`
	Doors         map[string]*legacyDoor `json:"doors"`
}

// legacyDoor is one door's crossings in a footfall checkpoint.
type legacyDoor struct {
	In       int `json:"in"`
	Out      int `json:"out"`
	InToday  int `json:"in_today"`
	OutToday int `json:"out_today"`
}

// adoptFootfall restores a footfall checkpoint: the open interval, its
// door counts, the day's door counts and occupancy. Everything counted then
// was a visitor (there were no staff badges).
func (t *Tracker) adoptFootfall(f *footfall) {
	st := t.fresh()
	if f.IntervalStart.IsZero() {
		t.adopt(st)
		return
	}
	st.Clock, st.Open, st.Occupancy = f.IntervalStart, f.IntervalStart, f.Occupancy
	st.Interval = Traffic{Start: f.IntervalStart, Peak: f.Occupancy, Currency: t.o.Currency}
	t.adopt(st)
	day := t.st.Day
	day.Counted = true // it was being counted: report it when it ends
	for n, d := range f.Doors {
		dc := t.st.Doors[n]
		if dc == nil || d == nil {
			continue
		}
		dc.In, dc.Out = d.In, d.Out
		t.st.Interval.In += d.In
		t.st.Interval.Out += d.Out
		t.st.Interval.Visitors += d.In
		if f.Day == day.Day {
			dc.Day.In, dc.Day.Out = d.InToday, d.OutToday
			day.In += d.InToday
			day.Out += d.OutToday
			day.Visitors += d.InToday
		}
	}
}
