package beams

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/redcarpet-retail/redcarpet/drivers/gpiopair"
	"github.com/redcarpet-retail/redcarpet/edge"
)

func testMachine() *machine {
	o := DefaultOpts
	return newMachine(&o)
}

// feed gives the machine edges (sorted by time) and lets time pass until
// nothing is pending, returning the crossings.
func feed(m *machine, edges []gpiopair.Edge) []edge.Direction {
	var dirs []edge.Direction
	collect := func() {
		for _, n := range m.take() {
			if n.dir != "" {
				dirs = append(dirs, n.dir)
			}
		}
	}
	for _, e := range edges {
		m.edge(e)
		collect()
	}
	for {
		at, ok := m.deadline()
		if !ok {
			break
		}
		m.advance(at)
		collect()
	}
	return dirs
}

// A simulated stream of people walking through the door at 0.5 to 2 m/s,
// bodies 20 to 35 cm deep, beams 15 cm apart, in groups going the same way
// in single file, some close enough to enter before the previous one left
// B: every crossing counts, in its direction.
func TestSimulatedTraffic(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	const spacing = 0.15 // m
	for run := range 200 {
		var (
			edges []gpiopair.Edge
			want  []edge.Direction
			at    = time.Unix(1_700_000_000, 0)
		)
		add := func(line int, broken bool, t time.Time) {
			edges = append(edges, gpiopair.Edge{Line: line, Level: gpio.Level(broken), At: t})
		}
		for range 20 {
			dir, entry, exit := edge.In, beamA, beamB
			if rng.IntN(2) == 1 {
				dir, entry, exit = edge.Out, beamB, beamA
			}
			freeEntry, freeExit := at, at // when each beam is clear of the previous person
			for range 1 + rng.IntN(3) {
				v := 0.5 + 1.5*rng.Float64()       // m/s
				depth := 0.20 + 0.15*rng.Float64() // m
				sec := func(m float64) time.Duration { return time.Duration(m / v * float64(time.Second)) }
				// The next person breaks each beam at least 30 ms after the
				// previous one cleared it: people do not walk into each other.
				gap := 30*time.Millisecond + time.Duration(rng.IntN(300))*time.Millisecond
				t0 := freeEntry.Add(gap)
				if e := freeExit.Add(gap - sec(spacing)); e.After(t0) {
					t0 = e
				}
				add(entry, true, t0)
				add(exit, true, t0.Add(sec(spacing)))
				add(entry, false, t0.Add(sec(depth)))
				add(exit, false, t0.Add(sec(spacing+depth)))
				freeEntry, freeExit = t0.Add(sec(depth)), t0.Add(sec(spacing+depth))
				want = append(want, dir)
				at = t0.Add(sec(spacing + depth))
			}
			at = at.Add(time.Duration(50+rng.IntN(5000)) * time.Millisecond)
		}
		slices.SortStableFunc(edges, func(a, b gpiopair.Edge) int { return a.At.Compare(b.At) })
		if got := feed(testMachine(), edges); !slices.Equal(got, want) {
			t.Fatalf("run %d: counted %v, want %v", run, got, want)
		}
	}
}

// FuzzStateMachine feeds arbitrary edges and pauses. The machine must not
// panic, report only what happened (no more crossings in a direction than
// the exit beam cleared and the entry beam broke, obstruction reports in a
// sane order), and count the next clean crossing once the beams are clear.
func FuzzStateMachine(f *testing.F) {
	f.Add([]byte{0x0a, 0x53, 0x48, 0x51}) // in
	f.Add([]byte{0x0b, 0x52, 0x49, 0x50}) // out
	f.Add([]byte{0x0a, 0x53, 0x48, 0x52, 0x4b, 0x50, 0x49, 0x51})
	f.Add([]byte{0x0a, 0xFA, 0x53, 0x51, 0x48, 0xF1, 0x02})
	f.Add([]byte{0x02, 0x03, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := testMachine()
		at := time.Unix(1_700_000_000, 0)
		var (
			breaks, clears [2]int // raw edges
			crossings      = map[edge.Direction]int{}
			degraded       bool
		)
		check := func() {
			for _, n := range m.take() {
				switch {
				case n.dir == edge.In || n.dir == edge.Out:
					crossings[n.dir]++
				case n.dir != "":
					t.Fatalf("direction %q", n.dir)
				case n.state == edge.DeviceDegraded:
					degraded = true
				case n.state == edge.DeviceUp:
					if !degraded {
						t.Fatal("up without degraded before")
					}
					degraded = false
				default:
					t.Fatalf("note %+v", n)
				}
			}
			// The last status reported is the beams' state.
			if obstructed := m.beams[beamA].obstructed || m.beams[beamB].obstructed; obstructed != degraded {
				t.Fatalf("reported degraded %v, beams obstructed %v", degraded, obstructed)
			}
		}
		for _, b := range data {
			if b >= 0xF0 { // a pause of 1 to 16 s
				at = at.Add(time.Duration(b-0xEF) * time.Second)
				m.advance(at)
				check()
				continue
			}
			// Bit 0: the beam; bit 1: broken; bits 2-7: ms since the last
			// edge, ×5 (0 to 315 ms: around the 20 ms debounce).
			at = at.Add(time.Duration(b>>2) * 5 * time.Millisecond)
			line, broken := int(b&1), b&2 != 0
			if broken {
				breaks[line]++
			} else {
				clears[line]++
			}
			m.edge(gpiopair.Edge{Line: line, Level: gpio.Level(broken), At: at})
			check()
			if dl, ok := m.deadline(); ok && dl.Before(at.Add(-m.debounce)) {
				t.Fatalf("deadline %v is in the past at %v", dl, at)
			}
		}
		if crossings[edge.In] > clears[beamB] || crossings[edge.In] > breaks[beamA] ||
			crossings[edge.Out] > clears[beamA] || crossings[edge.Out] > breaks[beamB] {
			t.Fatalf("%v crossings from %v breaks and %v clears", crossings, breaks, clears)
		}
		// Clear both beams and wait: the machine settles, the beams are no
		// longer obstructed, and a clean crossing counts one.
		at = at.Add(time.Second)
		m.edge(gpiopair.Edge{Line: beamA, Level: gpio.Low, At: at})
		m.edge(gpiopair.Edge{Line: beamB, Level: gpio.Low, At: at.Add(time.Millisecond)})
		at = at.Add(time.Minute)
		m.advance(at)
		check()
		if degraded {
			t.Fatal("still degraded with both beams clear")
		}
		if _, ok := m.deadline(); ok || m.phase != idle || m.spoiled {
			t.Fatalf("not idle after a minute of clear beams: phase %d, spoiled %v", m.phase, m.spoiled)
		}
		before := crossings[edge.In]
		for i, e := range []struct {
			line   int
			broken bool
		}{{beamA, true}, {beamB, true}, {beamA, false}, {beamB, false}} {
			m.edge(gpiopair.Edge{Line: e.line, Level: gpio.Level(e.broken), At: at.Add(time.Duration(i) * 100 * time.Millisecond)})
		}
		m.advance(at.Add(time.Second))
		check()
		if crossings[edge.In] != before+1 {
			t.Fatalf("a clean crossing after the fuzz counted %d", crossings[edge.In]-before)
		}
	})
}
