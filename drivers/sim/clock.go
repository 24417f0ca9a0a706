package sim

import (
	"math"
	"time"
)

// Clock is simulated time: it reads start when it is created and runs
// speed times faster than real time from then on. It is immutable and safe
// for concurrent use. In the demo, the engine takes Clock.Now as its clock,
// so events, counting intervals and offer validity all live in simulated
// time.
type Clock struct {
	start  time.Time // simulated time at origin
	origin time.Time // real time of creation, with its monotonic reading
	speed  float64
}

// NewClock returns a clock reading start now and advancing speed simulated
// seconds per real second. It panics if speed is not positive, a
// programming error.
func NewClock(start time.Time, speed float64) *Clock {
	if !(speed > 0) || math.IsInf(speed, 0) {
		panic("sim: clock speed must be a positive number")
	}
	return &Clock{start: start.Round(0), origin: time.Now(), speed: speed}
}

// Now returns the simulated time, in the location of the start time.
func (c *Clock) Now() time.Time {
	return c.start.Add(c.simulated(time.Since(c.origin)))
}

// Until returns the real duration until the clock reads t, rounded up so
// that the clock reads at least t once it has passed; it is negative or
// zero when t is not in the clock's future.
func (c *Clock) Until(t time.Time) time.Duration {
	return time.Duration(math.Ceil(float64(t.Sub(c.Now())) / c.speed))
}

// Start returns the simulated time the clock started at.
func (c *Clock) Start() time.Time { return c.start }

// Speed returns simulated seconds per real second.
func (c *Clock) Speed() float64 { return c.speed }

// simulated converts a real duration to simulated time.
func (c *Clock) simulated(real time.Duration) time.Duration {
	return time.Duration(float64(real) * c.speed)
}
