package beams

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/gpiopair"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// Beam indexes: the source's line 0 is beam A (outside), line 1 beam B
// (inside).
const (
	beamA = 0
	beamB = 1
)

var beamNames = [2]string{"A", "B"}

// beam is one beam's debounced state.
type beam struct {
	broken     bool      // the debounced state
	since      time.Time // when the debounced state began (the raw change's time)
	obstructed bool      // broken for ObstructedAfter or longer
	pending    bool      // the raw level is the other state, since pendSince
	pendSince  time.Time
}

// phase is how far the current passage got; see the package documentation.
type phase uint8

const (
	idle     phase = iota // no passage
	entered               // the entry beam broke; the exit beam has not (yet)
	spanning              // both beams broken
	leaving               // the entry beam cleared behind someone in the exit beam
)

// note is something the machine reports: a crossing or a status change.
type note struct {
	dir    edge.Direction   // a crossing, when not ""
	state  edge.DeviceState // else a status change
	detail string
}

// machine is the pure direction state machine: edges and the passing of
// time in, notes out. It runs Debounce behind the edges: a raw change is
// applied once it held Debounce, at the time it began, and timers fire in
// the same time order, so decisions follow the order of the stable
// changes whatever the debounce delay.
type machine struct {
	brokenLevel                           gpio.Level
	debounce, maxTransit, obstructedAfter time.Duration

	beams         [2]beam
	phase         phase
	entry         int       // the beam the passage came in through
	start         time.Time // when the entry beam broke
	follower      bool      // leaving: the entry beam broke again behind the one leaving
	followerStart time.Time
	spoiled       bool // the passage counts nothing; reset when both beams are clear

	now   time.Time // latest time seen: edges never go back before it
	meter *drivers.Meter
	notes []note // to report
}

func newMachine(o *Opts) *machine {
	m := &machine{
		brokenLevel: gpio.High, debounce: o.Debounce, maxTransit: o.MaxTransit, obstructedAfter: o.ObstructedAfter,
		meter: o.Meter,
	}
	if o.BrokenLevel == BrokenLow {
		m.brokenLevel = gpio.Low
	}
	return m
}

// edge takes a raw edge.
func (m *machine) edge(e gpiopair.Edge) {
	if e.Line != beamA && e.Line != beamB {
		return
	}
	m.advance(e.At)
	b := &m.beams[e.Line]
	switch broken := e.Level == m.brokenLevel; {
	case broken == b.broken:
		if b.pending { // back before the change held: a glitch
			b.pending = false
			m.meter.Reject(RejectGlitch)
		}
	case !b.pending:
		b.pending, b.pendSince = true, m.now
	}
}

// advance applies everything due by now: raw changes that held Debounce
// and timers, in the order of their times.
func (m *machine) advance(now time.Time) {
	if now.After(m.now) {
		m.now = now
	}
	limit := m.now.Add(-m.debounce)
	for {
		at, s, x := m.next()
		if s == none || at.After(limit) {
			return
		}
		switch s {
		case changeBeam:
			m.change(x, at)
		case abandon: // nobody reached the exit beam in time
			m.phase = idle
		case obstruct:
			m.beams[x].obstructed = true
			m.spoilPassage()
			m.report(x)
		}
	}
}

// deadline returns when advance has something to do next, if anything.
func (m *machine) deadline() (time.Time, bool) {
	at, s, _ := m.next()
	return at.Add(m.debounce), s != none
}

// step kinds, in the order they are taken when due at the same time.
type stepKind uint8

const (
	none       stepKind = iota
	changeBeam          // a raw change held Debounce
	abandon             // the passage's MaxTransit ran out
	obstruct            // a beam broken for ObstructedAfter
)

// next returns the earliest pending step, its time and its beam. Changes
// come before timers of the same time: a beam broken exactly MaxTransit
// after the passage began still counts, and one cleared exactly
// ObstructedAfter after it broke was not obstructed.
func (m *machine) next() (at time.Time, s stepKind, x int) {
	consider := func(t time.Time, k stepKind, beam int) {
		if s == none || t.Before(at) {
			at, s, x = t, k, beam
		}
	}
	for i := range m.beams {
		if b := &m.beams[i]; b.pending {
			consider(b.pendSince, changeBeam, i)
		}
	}
	if m.phase == entered && !m.beams[m.entry].broken {
		consider(m.start.Add(m.maxTransit), abandon, m.entry)
	}
	for i := range m.beams {
		if b := &m.beams[i]; b.broken && !b.obstructed {
			consider(b.since.Add(m.obstructedAfter), obstruct, i)
		}
	}
	return at, s, x
}

// change applies beam x's debounced change at t.
func (m *machine) change(x int, t time.Time) {
	b, o := &m.beams[x], &m.beams[1-x]
	if o.pending && o.pendSince.Equal(t) && o.broken == b.broken {
		// Both beams change the same way at once: which went first, and so
		// the direction, is unknowable.
		m.spoilPassage()
	}
	b.broken, b.since, b.pending = !b.broken, t, false
	if !b.broken && b.obstructed {
		b.obstructed = false
		m.report(x)
	}
	m.step(x, b.broken, t)
	if !m.beams[beamA].broken && !m.beams[beamB].broken && m.spoiled {
		m.phase, m.follower, m.spoiled = idle, false, false
	}
}

// step advances the passage for beam x breaking (or clearing) at t.
func (m *machine) step(x int, broken bool, t time.Time) {
	switch m.phase {
	case idle:
		if broken {
			m.phase, m.entry, m.start = entered, x, t
		}
	case entered:
		switch {
		case x == m.entry && broken: // broken again: the passage starts over
			m.start = t
		case x == m.entry: // cleared: the exit beam may still break within MaxTransit
		case m.beams[m.entry].broken:
			m.phase = spanning
		case t.Sub(m.start) <= m.maxTransit: // across a gap between the beams
			m.phase = leaving
		default: // too late to continue this passage: a new one from the other side
			m.entry, m.start = x, t
		}
	case spanning:
		if x == m.entry {
			m.phase = leaving
		} else {
			m.phase = entered // stepped back out of the exit beam
		}
	case leaving:
		switch {
		case x == m.entry && broken: // someone close behind
			m.follower, m.followerStart = true, t
		case x == m.entry:
			m.follower = false
		default: // the exit beam cleared last: a crossing
			if !m.spoiled {
				dir := edge.In
				if m.entry == beamB {
					dir = edge.Out
				}
				m.notes = append(m.notes, note{dir: dir})
			}
			m.phase = idle
			if m.follower {
				m.phase, m.start, m.follower = entered, m.followerStart, false
			}
		}
	}
}

func (m *machine) spoilPassage() {
	if !m.spoiled {
		m.spoiled = true
		m.meter.Reject(RejectAmbiguous)
	}
}

// report notes the device's state after beam x became obstructed or clear.
func (m *machine) report(x int) {
	a, b := m.beams[beamA].obstructed, m.beams[beamB].obstructed
	n := note{state: edge.DeviceDegraded}
	switch {
	case a && b:
		n.detail = fmt.Sprintf("beams A and B obstructed for %v", m.obstructedAfter)
	case a:
		n.detail = fmt.Sprintf("beam A obstructed for %v", m.obstructedAfter)
	case b:
		n.detail = fmt.Sprintf("beam B obstructed for %v", m.obstructedAfter)
	default:
		n = note{state: edge.DeviceUp, detail: fmt.Sprintf("beam %s no longer obstructed", beamNames[x])}
	}
	m.notes = append(m.notes, n)
}

// take returns and forgets the notes so far.
func (m *machine) take() []note {
	n := m.notes
	m.notes = nil
	return n
}
