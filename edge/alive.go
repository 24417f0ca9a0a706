package edge

import "time"

// Alive returns when, in real time, the engine last went round its loop:
// after every batch of events, every till command and every tick
// (Options.Tick, 1 s by default), so an idle engine stays alive. It is zero
// before Run starts. A watchdog compares it with the clock: an engine stuck
// in a step (a hung disk, a deadlock) stops advancing it.
func (e *Engine) Alive() time.Time {
	n := e.beat.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
