package edge

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Money is an amount in minor units (cents) of the store's currency. In JSON
// it is a decimal number in major units with at most two decimals
// ("unit_price": 2.49), parsed exactly: no binary floating point touches an
// amount.
type Money int64

// maxMoney bounds amounts (10^13 minor units) so sums cannot overflow.
const maxMoney = Money(10_000_000_000_000)

// ErrBadAmount is returned for an amount that is not a decimal number with
// at most two decimals, or is out of range.
var ErrBadAmount = errors.New("bad amount")

// ParseMoney parses a decimal amount in major units: "12", "12.5", "-0.99".
func ParseMoney(s string) (Money, error) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || len(whole) > 13 || (dot && (frac == "" || len(frac) > 2)) || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%w: %q is not a decimal amount with at most two decimals", ErrBadAmount, s)
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			f *= 10
		}
	}
	m := Money(w*100 + f)
	if m > maxMoney {
		return 0, fmt.Errorf("%w: %s is too large", ErrBadAmount, s)
	}
	if neg {
		m = -m
	}
	return m, nil
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// String formats m in major units with two decimals.
func (m Money) String() string {
	sign := ""
	v := int64(m)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// MarshalJSON writes m as a JSON number in major units.
func (m Money) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalJSON reads a JSON number (or a string holding one) in major units.
func (m *Money) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" {
		return fmt.Errorf("%w: null", ErrBadAmount)
	}
	v, err := ParseMoney(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Percent returns pct percent of m, rounded half away from zero to a minor
// unit.
func (m Money) Percent(pct float64) Money {
	// pct has at most a few decimals; work in hundredths of a percent.
	bp := int64(pct*100 + 0.5)
	v := int64(m) * bp
	if v >= 0 {
		return Money((v + 5000) / 10000)
	}
	return Money((v - 5000) / 10000)
}
