package sim

import (
	"math"
	"time"
)

// The arrival curve: the relative rate at which shoppers come in over a day.
const (
	// lastCall ends arrivals this long before closing.
	lastCall = 15 * time.Minute
	// warmUp is how long after opening the rate takes to reach the curve,
	// starting at half of it: the doors open on a few early shoppers.
	warmUp = 45 * time.Minute
)

// rate is the relative arrival rate at local clock time h (hours after
// midnight): a daytime plateau with a mid-morning bump, a lunch peak around
// 12:30 and a larger evening peak around 17:45, and a low trickle at night
// for stores that never close.
func rate(h float64) float64 {
	var base float64
	switch {
	case h < 6 || h >= 23:
		base = 0.05
	case h < 8:
		base = 0.05 + 0.45*(h-6)/2
	case h < 21:
		base = 0.5
	default:
		base = 0.5 - 0.45*(h-21)/2
	}
	return base + 0.3*bump(h, 10, 1) + 0.9*bump(h, 12.5, 0.9) + 1.2*bump(h, 17.75, 1.25)
}

// bump is a Gaussian bump of height 1 centred on mu.
func bump(h, mu, sigma float64) float64 {
	z := (h - mu) / sigma
	return math.Exp(-z * z / 2)
}

// arrivalMinutes returns the arrival weight of each minute from open to
// lastCall before close, and their sum.
func arrivalMinutes(open, close time.Time) (w []float64, total float64) {
	end := close.Add(-lastCall)
	for t := open; t.Before(end); t = t.Add(time.Minute) {
		mid := t.Add(30 * time.Second)
		lt := mid.In(open.Location())
		h := float64(lt.Hour()) + float64(lt.Minute())/60 + float64(lt.Second())/3600
		ramp := 0.5 + 0.5*min(1, float64(mid.Sub(open))/float64(warmUp))
		v := rate(h) * ramp
		w = append(w, v)
		total += v
	}
	return w, total
}

// referenceWeight is the total arrival weight of a day open 08:00 to 20:00,
// the day Opts.ArrivalsPerDay is given for.
func referenceWeight() float64 {
	day := time.Date(2000, 1, 3, 0, 0, 0, 0, time.UTC)
	_, total := arrivalMinutes(day.Add(defaultOpen), day.Add(defaultClose))
	return total
}

// conversionKnots shape the probability of buying over the day, as factors
// of Behaviour.Conversion at local hours, linear in between: purposeful
// shoppers early, at lunch and late; browsers in mid-afternoon.
var conversionKnots = []struct{ h, f float64 }{
	{0, 1.15}, {8.5, 1.2}, {10, 1.05}, {11.5, 1.0}, {12.5, 1.12}, {14, 0.95},
	{15.5, 0.78}, {16.5, 0.9}, {17.75, 1.0}, {19, 1.08}, {20.5, 1.2}, {24, 1.15},
}

// conversionFactor is the factor of Behaviour.Conversion at local clock
// time h (hours after midnight).
func conversionFactor(h float64) float64 {
	k := conversionKnots
	for i := 1; i < len(k); i++ {
		if h < k[i].h {
			return k[i-1].f + (k[i].f-k[i-1].f)*(h-k[i-1].h)/(k[i].h-k[i-1].h)
		}
	}
	return k[len(k)-1].f
}

// conversion is the probability that a shopper arriving at t buys, by the
// local time of day, at most 1.
func (p *Plan) conversion(t time.Time) float64 {
	lt := t.In(p.o.Location)
	h := float64(lt.Hour()) + float64(lt.Minute())/60
	return min(1, p.o.Behaviour.Conversion*conversionFactor(h))
}
