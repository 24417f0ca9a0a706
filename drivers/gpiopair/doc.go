// Package gpiopair delivers the edges of two GPIO input lines as one
// time-ordered stream. It is what the two-wire drivers read: Wiegand
// readers (D0 and D1) and dual infrared beams (outer and inner beam).
//
// A Source yields Edge values: which line (0 or 1), the level the line went
// to and when the edge was observed. Next waits at most a given timeout and
// reports ErrTimeout when nothing happened: silence means something to
// both protocols (the end of a Wiegand frame, a beam that stayed broken).
//
// # Implementations
//
// OpenLineSet and FromLineSet read both lines through one request of the
// Linux GPIO character device (periph.io/x/host/v3/gpioioctl LineSet). The
// kernel detects edges in interrupt context, queues them (16 events per
// requested line) and delivers the events of one request in the order it
// detected them, with the edge type. This is the source to use on real
// hardware. A goroutine drains the kernel queue into a larger one as soon
// as events arrive, so a consumer that is briefly slow loses nothing.
//
// FromPins reads any two periph gpio.PinIn, one goroutine per pin: sysfs or
// bcm283x pins, and gpiotest.Pin doubles in tests. Each goroutine stamps an
// edge when its WaitForEdge returns, so the order across the two lines is
// the order of arrival in user space. That is exact enough for beams,
// whose edges are tens of milliseconds apart, and usually but not provably
// right for Wiegand pulses 1 to 2 ms apart on a loaded system: prefer the
// LineSet source for Wiegand. gpio.PinIn also cannot say which edge woke
// it, so:
//
//   - with gpio.FallingEdge (or gpio.RisingEdge) every edge is reported with
//     the level that edge implies (Low, or High): a Wiegand pulse of 50 µs
//     is over long before user space could read the line;
//   - with gpio.BothEdges the level is read right after the edge. It is the
//     current level, which is what a level-tracking consumer (the beams)
//     wants; two edges in quick succession may be reported as two edges to
//     the same level.
//
// With gpio.BothEdges, both implementations first report each line's level
// at the time the source started (line 0 then line 1), so a consumer that
// tracks levels starts from the real state instead of assuming idle lines.
//
// # Timing and order guarantees
//
// Edge.At is time.Now when the edge was taken from the kernel or pin
// driver, with its monotonic reading; edges are delivered in the order
// they were stamped, so At never decreases from one edge to the next.
// periph's LineSet discards the kernel's own timestamps, so At is the time
// the edge reached user space, not the time of the electrical edge: a
// scheduling delay stretches the interval before an edge and compresses the
// ones after it. Consumers that split on silence should treat ErrTimeout as
// the authoritative end of a burst.
//
// Next follows periph's gpio.PinIn convention for its timeout: a negative
// timeout waits without limit, zero returns an edge already queued or
// ErrTimeout at once. (gpioioctl's own WaitForEdge reads 0 as "forever";
// this package never passes it a zero or negative timeout, and bounds every
// wait so Close always returns.)
//
// # Ownership
//
// A Source owns what it was built from only as far as the documentation of
// its constructor says: a LineSet source closes its LineSet; a pin source
// leaves the pins configured for edge detection and interrupts their
// pending waits. Close stops the goroutines and returns once they have
// exited. Only one goroutine may call Next at a time; Close may be called
// from any goroutine, any number of times.
package gpiopair
