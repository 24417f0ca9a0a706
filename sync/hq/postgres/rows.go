package postgres

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/hq"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
)

// The checkout's kinds (edge.Redemption, edge.BasketClosed) and the
// store-traffic kinds (edge.Traffic, edge.TrafficDay, edge.Visit, and
// edge.Exposure for an offer withheld from a holdout member).
const (
	KindRedeemed     = string(edge.KindRedeemed)   // a member redeemed an offer at a lane
	KindBasketClosed = string(edge.KindBasket)     // a basket was paid at a lane
	KindTraffic      = string(edge.KindTraffic)    // a closed counting interval of the whole store
	KindTrafficDay   = string(edge.KindTrafficDay) // a closed trading day of the whole store
	KindVisit        = string(edge.KindVisit)      // a member's visit ended
	KindWithheld     = string(edge.KindWithheld)   // an offer withheld from a holdout member
)

// Typed slots of the staging table: the per-kind columns are staged in
// generic slots that kindSpec.cols names, by type: text, integer,
// timestamptz, numeric, boolean and date.
const (
	slotS1 = iota // text
	slotS2
	slotS3
	slotS4
	slotS5
	slotS6
	slotI1 // integer
	slotI2
	slotI3
	slotI4
	slotI5
	slotI6
	slotI7
	slotI8
	slotI9
	slotI10
	slotI11
	slotI12
	slotI13
	slotI14
	slotI15
	slotI16
	slotI17
	slotT1 // timestamptz
	slotT2
	slotT3
	slotN1 // numeric
	slotN2
	slotB1 // boolean
	slotD1 // date
	numSlots
)

// slotNames and slotTypes are the staging table's slot columns.
var slotNames, slotTypes = func() (names, types [numSlots]string) {
	groups := []struct {
		first, last int
		prefix, typ string
	}{
		{slotS1, slotS6, "s", "text"}, {slotI1, slotI17, "i", "integer"}, {slotT1, slotT3, "t", "timestamptz"},
		{slotN1, slotN2, "n", "numeric"}, {slotB1, slotB1, "b", "boolean"}, {slotD1, slotD1, "d", "date"},
	}
	for _, g := range groups {
		for i := g.first; i <= g.last; i++ {
			names[i], types[i] = g.prefix+strconv.Itoa(i-g.first+1), g.typ
		}
	}
	return names, types
}()

// column maps a typed column of a kind table to its staging slot.
type column struct {
	name string
	slot int
}

// kindSpec is how the events of one kind are stored.
type kindSpec struct {
	kind   string
	table  string
	cols   []column
	decode func(data []byte, v *[numSlots]any) error
}

// kindSpecs are the typed kinds. Everything else goes to other_events.
var kindSpecs = []*kindSpec{
	{string(edge.KindFootfall), "footfall_intervals", []column{
		{"door", slotS1}, {"interval_start", slotT1}, {"interval_end", slotT2},
		{"people_in", slotI1}, {"people_out", slotI2}, {"occupancy", slotI3},
		{"staff_in", slotI4}, {"staff_out", slotI5},
	}, decodeFootfall},
	{string(edge.KindRecognition), "recognitions", []column{
		{"member_id", slotS1}, {"via", slotS2}, {"zone", slotS3}, {"lane", slotS4}, {"door", slotS5},
		{"new_visit", slotB1},
	}, decodeRecognition},
	{string(edge.KindOfferShown), "exposures", exposureColumns, decodeExposure},
	{KindRedeemed, "redemptions", []column{
		{"offer_id", slotS1}, {"member_id", slotS2}, {"lane", slotS3}, {"basket_id", slotS4}, {"discount", slotN1},
	}, decodeRedemption},
	{KindBasketClosed, "baskets", []column{
		{"basket_id", slotS1}, {"lane", slotS2}, {"member_id", slotS3}, {"total", slotN1},
		{"items", slotI1}, {"currency", slotS4},
	}, decodeBasket},
	{string(edge.KindDeviceStatus), "device_status", []column{
		{"device", slotS1}, {"device_kind", slotS2}, {"state", slotS3}, {"detail", slotS4},
	}, decodeDevice},
	{string(edge.KindErased), "erasures_applied", []column{
		{"member_id", slotS1}, {"request_id", slotS2}, {"events_removed", slotI1},
	}, decodeErased},
	{KindTraffic, "traffic_intervals", []column{
		{"interval_start", slotT1}, {"interval_end", slotT2}, {"trading_day", slotD1},
		{"people_in", slotI1}, {"people_out", slotI2}, {"staff_in", slotI3}, {"staff_out", slotI4},
		{"visitors", slotI5}, {"occupancy", slotI6}, {"peak", slotI7}, {"clamped", slotI8}, {"reset", slotI9},
		{"member_visits", slotI10}, {"baskets", slotI11}, {"member_baskets", slotI12},
		{"spend", slotN1}, {"member_spend", slotN2}, {"currency", slotS1},
		{"offers_shown", slotI13}, {"offers_redeemed", slotI14}, {"offers_withheld", slotI15},
	}, decodeTraffic},
	{KindTrafficDay, "traffic_days", []column{
		{"trading_day", slotD1}, {"day_start", slotT1}, {"day_end", slotT2},
		{"people_in", slotI1}, {"people_out", slotI2}, {"staff_in", slotI3}, {"staff_out", slotI4},
		{"visitors", slotI5}, {"peak", slotI6}, {"peak_at", slotT3}, {"mismatch", slotI7}, {"clamped", slotI8},
		{"dwell_s", slotI9}, {"members", slotI10}, {"member_visits", slotI11}, {"member_dwell_s", slotI12},
		{"baskets", slotI13}, {"member_baskets", slotI14},
		{"spend", slotN1}, {"member_spend", slotN2}, {"currency", slotS1},
		{"offers_shown", slotI15}, {"offers_redeemed", slotI16}, {"offers_withheld", slotI17},
	}, decodeTrafficDay},
	{KindVisit, "member_visits", []column{
		{"member_id", slotS1}, {"visit_start", slotT1}, {"visit_end", slotT2}, {"dwell_s", slotI1},
		{"entry_door", slotS2}, {"exit_door", slotS3}, {"baskets", slotI2}, {"spend", slotN1}, {"ended", slotS4},
	}, decodeVisit},
	{KindWithheld, "withheld_offers", exposureColumns, decodeWithheld},
}

// exposureColumns are the typed columns of exposures and withheld_offers.
var exposureColumns = []column{
	{"offer_id", slotS1}, {"member_id", slotS2}, {"channel", slotS3}, {"screen", slotS4}, {"rank", slotI1},
	{"discount_pct", slotN1}, {"cell", slotS5},
}

// otherTable holds the events of kinds without a kindSpec.
const otherTable = "other_events"

var specByKind = func() map[string]*kindSpec {
	m := make(map[string]*kindSpec, len(kindSpecs))
	for _, k := range kindSpecs {
		m[k.kind] = k
	}
	return m
}()

// errShape is wrapped by decodeData errors: the data can never be stored.
var errShape = errors.New("data does not fit its kind")

// decodeData checks that data, an event's data of the given kind, can be
// stored, and sets the typed slots of its kind (the others stay nil). The
// data must be JSON that PostgreSQL accepts as jsonb (see checkJSONB), and
// for a typed kind an object whose fields have the types of the kind's
// payload, with integers that fit a PostgreSQL integer. Fields absent from
// the object get their zero value (NULL for timestamps, numbers of unknown
// shape and a basket's member_id); unknown fields are kept in the data
// column. decodeData never panics, whatever its input (FuzzDecodeData).
func decodeData(kind string, data []byte, v *[numSlots]any) error {
	if err := checkJSONB(data); err != nil {
		return fmt.Errorf("%s: %w: %v", kind, errShape, err)
	}
	spec := specByKind[kind]
	if spec == nil {
		return nil
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("%s: %w: not a JSON object", kind, errShape)
	}
	if err := spec.decode(data, v); err != nil {
		return fmt.Errorf("%s: %w: %v", kind, errShape, err)
	}
	return nil
}

func decodeFootfall(data []byte, v *[numSlots]any) error {
	var p edge.Footfall
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	v[slotS1] = p.Door
	v[slotT1], v[slotT2] = timeOrNil(p.Start), timeOrNil(p.End)
	return ints(v, []int{slotI1, slotI2, slotI3, slotI4, slotI5}, p.In, p.Out, p.Occupancy, p.StaffIn, p.StaffOut)
}

func decodeRecognition(data []byte, v *[numSlots]any) error {
	var p edge.Recognition
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	v[slotS1], v[slotS2], v[slotS3], v[slotS4], v[slotS5] = p.MemberID, string(p.Via), p.Zone, p.Lane, p.Door
	v[slotB1] = p.NewVisit
	return nil
}

// exposure is the payload of offer.shown and offer.withheld, with the
// discount read as a number of any shape.
type exposure struct {
	edge.Exposure
	DiscountPct json.Number `json:"discount_pct"`
}

func decodeExposure(data []byte, v *[numSlots]any) error {
	var p exposure
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	v[slotS1], v[slotS2], v[slotS3], v[slotS4], v[slotS5] = p.OfferID, p.MemberID, string(p.Channel), p.Screen, p.Cell
	n, err := numeric(p.DiscountPct)
	if err != nil {
		return fmt.Errorf("discount_pct: %w", err)
	}
	v[slotN1] = n
	return ints(v, []int{slotI1}, p.Rank)
}

func decodeWithheld(data []byte, v *[numSlots]any) error { return decodeExposure(data, v) }

// traffic is the payload of traffic.interval, with amounts read as numbers
// of any shape (as a redemption's discount).
type traffic struct {
	edge.Traffic
	Spend       json.Number `json:"spend"`
	MemberSpend json.Number `json:"member_spend"`
}

func decodeTraffic(data []byte, v *[numSlots]any) error {
	var p traffic
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	v[slotT1], v[slotT2], v[slotS1] = timeOrNil(p.Start), timeOrNil(p.End), p.Currency
	var err error
	if v[slotD1], err = tradingDay(p.Day); err != nil {
		return err
	}
	if err := amounts(v, []int{slotN1, slotN2}, p.Spend, p.MemberSpend); err != nil {
		return err
	}
	if err := ints(v, []int{slotI1, slotI2, slotI3, slotI4, slotI5, slotI6, slotI7, slotI8, slotI10, slotI11, slotI12, slotI13, slotI14, slotI15},
		p.In, p.Out, p.StaffIn, p.StaffOut, p.Visitors, p.Occupancy, p.Peak, p.Clamped,
		p.MemberVisits, p.Baskets, p.MemberBaskets, p.OffersShown, p.OffersRedeemed, p.OffersWithheld); err != nil {
		return err
	}
	if p.Reset != nil {
		return ints(v, []int{slotI9}, *p.Reset)
	}
	return nil
}

// trafficDay is the payload of traffic.day, with amounts of any shape.
type trafficDay struct {
	edge.TrafficDay
	Spend       json.Number `json:"spend"`
	MemberSpend json.Number `json:"member_spend"`
}

func decodeTrafficDay(data []byte, v *[numSlots]any) error {
	var p trafficDay
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	v[slotT1], v[slotT2], v[slotT3], v[slotS1] = timeOrNil(p.Start), timeOrNil(p.End), timeOrNil(p.PeakAt), p.Currency
	var err error
	if v[slotD1], err = tradingDay(p.Day); err != nil {
		return err
	}
	if err := amounts(v, []int{slotN1, slotN2}, p.Spend, p.MemberSpend); err != nil {
		return err
	}
	return ints(v, []int{slotI1, slotI2, slotI3, slotI4, slotI5, slotI6, slotI7, slotI8, slotI9, slotI10, slotI11, slotI12,
		slotI13, slotI14, slotI15, slotI16, slotI17},
		p.In, p.Out, p.StaffIn, p.StaffOut, p.Visitors, p.Peak, p.Mismatch, p.Clamped, saturate(p.DwellS),
		p.Members, p.MemberVisits, saturate(p.MemberDwellS), p.Baskets, p.MemberBaskets,
		p.OffersShown, p.OffersRedeemed, p.OffersWithheld)
}

// visit is the payload of visit.closed, with the spend of any shape.
type visit struct {
	edge.Visit
	Spend json.Number `json:"spend"`
}

func decodeVisit(data []byte, v *[numSlots]any) error {
	var p visit
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	v[slotS1], v[slotS2], v[slotS3], v[slotS4] = p.MemberID, p.EntryDoor, p.ExitDoor, p.Ended
	v[slotT1], v[slotT2] = timeOrNil(p.Start), timeOrNil(p.End)
	if err := amounts(v, []int{slotN1}, p.Spend); err != nil {
		return err
	}
	return ints(v, []int{slotI1, slotI2}, saturate(p.DwellS), p.Baskets)
}

// tradingDay converts a trading day to a date: nil when absent.
func tradingDay(s string) (any, error) {
	if s == "" {
		return nil, nil
	}
	d, err := time.Parse(hq.DayLayout, s)
	if err != nil || d.Year() < 1 {
		return nil, fmt.Errorf("day %.20q is not YYYY-MM-DD", s)
	}
	return d, nil
}

// amounts sets numeric slots from JSON numbers.
func amounts(v *[numSlots]any, slots []int, vals ...json.Number) error {
	for i, n := range vals {
		x, err := numeric(n)
		if err != nil {
			return err
		}
		v[slots[i]] = x
	}
	return nil
}

// saturate converts an int64 to an int for ints, saturating just outside
// an integer column's range, so that ints refuses what does not fit.
func saturate(n int64) int {
	return int(max(min(n, math.MaxInt32+1), math.MinInt32-1))
}

func decodeDevice(data []byte, v *[numSlots]any) error {
	var p edge.DeviceStatus
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	v[slotS1], v[slotS2], v[slotS3], v[slotS4] = p.Device, p.Kind, string(p.State), p.Detail
	return nil
}

func decodeErased(data []byte, v *[numSlots]any) error {
	var p edge.Erased
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	v[slotS1], v[slotS2] = p.MemberID, p.RequestID
	return ints(v, []int{slotI1}, p.Events)
}

// redemption is the payload of offer.redeemed.
type redemption struct {
	OfferID  string      `json:"offer_id"`
	MemberID string      `json:"member_id"`
	Lane     string      `json:"lane"`
	BasketID string      `json:"basket_id"`
	Discount json.Number `json:"discount"`
}

func decodeRedemption(data []byte, v *[numSlots]any) error {
	var p redemption
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	v[slotS1], v[slotS2], v[slotS3], v[slotS4] = p.OfferID, p.MemberID, p.Lane, p.BasketID
	n, err := numeric(p.Discount)
	v[slotN1] = n
	return err
}

// basket is the payload of basket.closed. Items is the number of items: a
// JSON integer, or an array whose length is taken.
type basket struct {
	BasketID string          `json:"basket_id"`
	Lane     string          `json:"lane"`
	MemberID *string         `json:"member_id"`
	Total    json.Number     `json:"total"`
	Items    json.RawMessage `json:"items"`
	Currency string          `json:"currency"`
}

func decodeBasket(data []byte, v *[numSlots]any) error {
	var p basket
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	v[slotS1], v[slotS2], v[slotS4] = p.BasketID, p.Lane, p.Currency
	if p.MemberID != nil && *p.MemberID != "" {
		v[slotS3] = *p.MemberID
	}
	n, err := numeric(p.Total)
	if err != nil {
		return fmt.Errorf("total: %w", err)
	}
	v[slotN1] = n
	switch items := bytes.TrimSpace(p.Items); {
	case len(items) == 0 || string(items) == "null":
	case items[0] == '[':
		var list []json.RawMessage
		if err := json.Unmarshal(items, &list); err != nil {
			return fmt.Errorf("items: %w", err)
		}
		return ints(v, []int{slotI1}, len(list))
	default:
		var k int
		if err := json.Unmarshal(items, &k); err != nil {
			return fmt.Errorf("items: %w", err)
		}
		return ints(v, []int{slotI1}, k)
	}
	return nil
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// ints sets integer slots, refusing values a PostgreSQL integer cannot hold.
func ints(v *[numSlots]any, slots []int, vals ...int) error {
	for i, n := range vals {
		if n < math.MinInt32 || n > math.MaxInt32 {
			return fmt.Errorf("integer %d out of range", n)
		}
		v[slots[i]] = int32(n)
	}
	return nil
}

// Bounds of the numbers numeric accepts: far inside PostgreSQL's numeric
// range, far outside any amount.
const (
	maxNumericDigits = 100
	maxNumericExp    = 100
)

// numeric converts a JSON number to a PostgreSQL numeric: nil for an empty
// one (field absent or null).
func numeric(n json.Number) (any, error) {
	if n == "" {
		return nil, nil
	}
	s := string(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	e := 0
	if hasExp {
		x, err := strconv.Atoi(exp)
		if err != nil || x < -maxNumericExp || x > maxNumericExp {
			return nil, fmt.Errorf("number %.20q out of range", n)
		}
		e = x
	}
	if len(digits) > maxNumericDigits || !allDigits(intPart) || !allDigits(frac) || intPart == "" {
		return nil, fmt.Errorf("number %.20q out of range", n)
	}
	i := new(big.Int)
	if digits != "" {
		if _, ok := i.SetString(digits, 10); !ok {
			return nil, fmt.Errorf("number %.20q is malformed", n)
		}
	}
	if neg {
		i.Neg(i)
	}
	return pgtype.Numeric{Int: i, Exp: int32(e - len(frac)), Valid: true}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Limits of checkJSONB, well inside what PostgreSQL's jsonb accepts
// (nesting bounded by max_stack_depth, numbers by numeric's range).
const (
	maxJSONDepth  = 512
	maxJSONDigits = 1000 // digits of a number's mantissa
	maxJSONExp    = 1000 // magnitude of a number's exponent
)

// checkJSONB reports whether PostgreSQL accepts data as jsonb. Valid JSON
// (RFC 8259, as encoding/json reads it) is not enough: jsonb also refuses
// invalid UTF-8, the escape \u0000 (text cannot hold NUL), unpaired UTF-16
// surrogate escapes, and numbers outside numeric's range. An event whose
// data jsonb refuses can never be stored, so it is rejected before the
// transaction instead of failing it on every retry.
func checkJSONB(data []byte) error {
	if !json.Valid(data) {
		return errors.New("invalid JSON")
	}
	if !utf8.Valid(data) {
		return errors.New("invalid UTF-8")
	}
	depth := 0
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			end, err := checkString(data, i+1)
			if err != nil {
				return err
			}
			i = end
		case c == '{' || c == '[':
			if depth++; depth > maxJSONDepth {
				return fmt.Errorf("nested deeper than %d", maxJSONDepth)
			}
		case c == '}' || c == ']':
			depth--
		case c == '-' || c >= '0' && c <= '9':
			end, err := checkNumber(data, i)
			if err != nil {
				return err
			}
			i = end
		}
	}
	return nil
}

// checkString checks the escapes of the string starting at data[i] (after
// the opening quote) and returns the index of its closing quote. data is
// valid JSON.
func checkString(data []byte, i int) (int, error) {
	for ; i < len(data); i++ {
		switch data[i] {
		case '"':
			return i, nil
		case '\\':
			i++
			if data[i] != 'u' {
				continue
			}
			r := hex4(data[i+1 : i+5])
			i += 4
			switch {
			case r == 0:
				return 0, errors.New(`string with \u0000`)
			case r >= 0xDC00 && r <= 0xDFFF:
				return 0, errors.New("unpaired low surrogate")
			case r >= 0xD800 && r <= 0xDBFF:
				if i+6 >= len(data) || data[i+1] != '\\' || data[i+2] != 'u' {
					return 0, errors.New("unpaired high surrogate")
				}
				if lo := hex4(data[i+3 : i+7]); lo < 0xDC00 || lo > 0xDFFF {
					return 0, errors.New("unpaired high surrogate")
				}
				i += 6
			}
		}
	}
	return 0, errors.New("unterminated string")
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// checkNumber checks the size of the number starting at data[i] and
// returns the index of its last byte. data is valid JSON.
func checkNumber(data []byte, i int) (int, error) {
	digits, exp, inExp := 0, 0, false
	j := i
	for ; j < len(data); j++ {
		c := data[j]
		switch {
		case c >= '0' && c <= '9':
			if inExp {
				if exp = exp*10 + int(c-'0'); exp > maxJSONExp {
					return 0, errors.New("number out of range")
				}
			} else if digits++; digits > maxJSONDigits {
				return 0, errors.New("number with too many digits")
			}
		case c == 'e' || c == 'E':
			inExp = true
		case c == '-' || c == '+' || c == '.':
		default:
			return j - 1, nil
		}
	}
	return j - 1, nil
}

// maxSeq bounds the sequence numbers tracked in sequence_ranges, so that
// range arithmetic (hi + 1) never overflows a bigint. Outbox sequence
// numbers start at 1 and never get near it; an id with a larger one is
// stored and counted as unsequenced.
const maxSeq = 1 << 62

// parseSeq splits an outbox id into epoch and sequence number. Only the
// canonical form counts ("abcd-05" is not seq 5 of abcd), as in BoltSink.
func parseSeq(id string) (string, int64, bool) {
	epoch, seq, ok := outbox.ParseID(id)
	if !ok || seq > maxSeq || id[len(epoch)+1:] != strconv.FormatUint(seq, 10) {
		return "", 0, false
	}
	return epoch, int64(seq), true
}
