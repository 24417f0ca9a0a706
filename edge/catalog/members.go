package catalog

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// Member columns, in documentation order.
const (
	mID = iota
	mFirstName
	mTier
	mSegment
	mStage
	mGreet
	mStaff
	mAffinity
	mCycles
	mMatrix
	mCards
	mLoyalty
	mList
)

var memberColumns = []string{
	mID: "id", mFirstName: "first_name", mTier: "tier", mSegment: "segment", mStage: "stage",
	mGreet: "greet_by_name", mStaff: "staff", mAffinity: "affinity", mCycles: "cycles", mMatrix: "matrix",
	mCards: "cards", mLoyalty: "loyalty_barcode", mList: "list_barcode",
}

// MemberColumns returns the member CSV columns (and JSON field names).
func MemberColumns() []string { return slices.Clone(memberColumns) }

// ReadMembers streams members from r in format f, calling yield for each
// valid line and bad for each invalid one (bad may be nil). loc is the
// store's time zone, for dates without a time (nil means UTC).
//
// It returns when r is exhausted, when yield returns an error (which it
// returns), or on a fatal problem: unreadable input, a CSV header naming an
// unknown column or missing the id column, or a CSV record longer than
// MaxLineBytes. Records yielded before stay yielded. Identifiers are checked
// for repeats across the file: a member id, card UID or barcode already
// used by an earlier good line makes the line bad.
func ReadMembers(r io.Reader, f Format, loc *time.Location, yield func(edge.MemberRecord) error, bad func(LineError)) (Result, error) {
	p := &memberParser{loc: loc, seen: newSeen()}
	if p.loc == nil {
		p.loc = time.UTC
	}
	k := &kind[edge.MemberRecord]{
		columns:  memberColumns,
		required: []int{mID},
		fromCSV:  p.fromCSV,
		fromJSON: p.fromJSON,
		accept:   p.accept,
	}
	return read(r, f, k, yield, bad)
}

type memberParser struct {
	loc  *time.Location
	seen *seen
}

// memberFields is a member as written in either format, before checks.
type memberFields struct {
	id, firstName, tier, segment, stage string
	greet, staff                        bool
	affinity                            []share
	cycles                              []cycleFields
	matrix                              []cellFields
	cards                               []string
	loyalty, list                       string
}

type share struct {
	category string
	value    float64
}

// cellFields is one item of a member's segment matrix, as written.
type cellFields struct {
	category, cell string
}

type cycleFields struct {
	category string
	mean     *float64
	last     string
	count    int
}

func (p *memberParser) fromCSV(r row) (edge.MemberRecord, *fieldError) {
	f := memberFields{
		id: r.get(mID), firstName: r.get(mFirstName), tier: r.get(mTier), segment: r.get(mSegment),
		stage: r.get(mStage), cards: splitList(r.get(mCards)),
		loyalty: r.get(mLoyalty), list: r.get(mList),
	}
	var why string
	if f.greet, why = parseBool(r.get(mGreet)); why != "" {
		return edge.MemberRecord{}, errorf("greet_by_name", "%s", why)
	}
	if f.staff, why = parseBool(r.get(mStaff)); why != "" {
		return edge.MemberRecord{}, errorf("staff", "%s", why)
	}
	for i, item := range splitList(r.get(mAffinity)) {
		cat, v, ok := strings.Cut(item, "=")
		if !ok {
			return edge.MemberRecord{}, errorf("affinity", "item %d is not category=share (e.g. dairy=0.4)", i+1)
		}
		cat = strings.TrimSpace(cat)
		n, why := parseFloat(strings.TrimSpace(v))
		if why != "" {
			return edge.MemberRecord{}, errorf("affinity", "%s: %s", quoteLabel(cat), why)
		}
		f.affinity = append(f.affinity, share{cat, n})
	}
	for i, item := range splitList(r.get(mCycles)) {
		c, fe := parseCycleCSV(i, item)
		if fe != nil {
			return edge.MemberRecord{}, fe
		}
		f.cycles = append(f.cycles, c)
	}
	for i, item := range splitList(r.get(mMatrix)) {
		cat, cell, ok := strings.Cut(item, "=")
		if !ok {
			return edge.MemberRecord{}, errorf("matrix", "item %d is not category=cell (e.g. dairy=switcher/heavy)", i+1)
		}
		f.matrix = append(f.matrix, cellFields{strings.TrimSpace(cat), strings.TrimSpace(cell)})
	}
	return p.build(&f)
}

// parseCycleCSV parses category=MEAN_DAYS@LAST[#COUNT].
func parseCycleCSV(i int, item string) (cycleFields, *fieldError) {
	const want = "is not category=mean_days@last[#count] (e.g. dairy=6.5@2026-11-10#12)"
	cat, rest, ok := strings.Cut(item, "=")
	if !ok {
		return cycleFields{}, errorf("cycles", "item %d %s", i+1, want)
	}
	c := cycleFields{category: strings.TrimSpace(cat)}
	mean, rest, ok := strings.Cut(rest, "@")
	if !ok {
		return c, errorf("cycles", "%s: %s", quoteLabel(c.category), want)
	}
	v, why := parseFloat(strings.TrimSpace(mean))
	if why != "" {
		return c, errorf("cycles", "%s: mean_days %s", quoteLabel(c.category), why)
	}
	c.mean = &v
	last, count, hasCount := strings.Cut(rest, "#")
	c.last = strings.TrimSpace(last)
	if hasCount {
		if c.count, why = parseInt(strings.TrimSpace(count)); why != "" {
			return c, errorf("cycles", "%s: count %s", quoteLabel(c.category), why)
		}
	}
	return c, nil
}

// memberJSON is one JSON line. Field names are those of the CSV columns.
type memberJSON struct {
	ID             string               `json:"id"`
	FirstName      string               `json:"first_name"`
	Tier           string               `json:"tier"`
	Segment        string               `json:"segment"`
	Stage          string               `json:"stage"`
	GreetByName    bool                 `json:"greet_by_name"`
	Staff          bool                 `json:"staff"`
	Affinity       map[string]float64   `json:"affinity"`
	Cycles         map[string]cycleJSON `json:"cycles"`
	Matrix         map[string]string    `json:"matrix"`
	Cards          []string             `json:"cards"`
	LoyaltyBarcode string               `json:"loyalty_barcode"`
	ListBarcode    string               `json:"list_barcode"`
}

type cycleJSON struct {
	MeanDays *float64 `json:"mean_days"`
	Last     string   `json:"last"`
	Count    int      `json:"count"`
}

func (p *memberParser) fromJSON(line []byte) (edge.MemberRecord, *fieldError) {
	var j memberJSON
	if fe := decodeJSON(line, &j); fe != nil {
		return edge.MemberRecord{}, fe
	}
	f := memberFields{
		id: strings.TrimSpace(j.ID), firstName: strings.TrimSpace(j.FirstName),
		tier: strings.TrimSpace(j.Tier), segment: strings.TrimSpace(j.Segment),
		stage: j.Stage, greet: j.GreetByName, staff: j.Staff, cards: j.Cards,
		loyalty: strings.TrimSpace(j.LoyaltyBarcode), list: strings.TrimSpace(j.ListBarcode),
	}
	for _, cat := range slices.Sorted(maps.Keys(j.Affinity)) {
		f.affinity = append(f.affinity, share{strings.TrimSpace(cat), j.Affinity[cat]})
	}
	for _, cat := range slices.Sorted(maps.Keys(j.Cycles)) {
		c := j.Cycles[cat]
		f.cycles = append(f.cycles, cycleFields{
			category: strings.TrimSpace(cat), mean: c.MeanDays, last: strings.TrimSpace(c.Last), count: c.Count,
		})
	}
	for _, cat := range slices.Sorted(maps.Keys(j.Matrix)) {
		f.matrix = append(f.matrix, cellFields{strings.TrimSpace(cat), strings.TrimSpace(j.Matrix[cat])})
	}
	return p.build(&f)
}

// build checks a member's fields, the same for both formats.
func (p *memberParser) build(f *memberFields) (edge.MemberRecord, *fieldError) {
	var (
		r   edge.MemberRecord
		m   = &r.Member
		why string
	)
	if why = checkID(f.id); why != "" {
		return r, errorf("id", "%s", why)
	}
	m.ID = f.id
	// first_name is personal data: its reasons never quote it.
	if why = checkText(f.firstName, maxLabelBytes, false); why != "" {
		return r, errorf("first_name", "%s", why)
	}
	m.FirstName = f.firstName
	if why = checkText(f.tier, maxLabelBytes, false); why != "" {
		return r, errorf("tier", "%s", why)
	}
	m.Tier = f.tier
	if why = checkText(f.segment, maxLabelBytes, false); why != "" {
		return r, errorf("segment", "%s", why)
	}
	m.Segment = f.segment
	if m.Stage, why = parseStage(f.stage); why != "" {
		return r, errorf("stage", "%s", why)
	}
	m.GreetByName = f.greet
	m.Staff = f.staff

	for i, s := range f.affinity {
		switch {
		case label(s.category) != "":
			return r, errorf("affinity", "category %d %s", i+1, label(s.category))
		case hasKey(m.Affinity, s.category):
			return r, errorf("affinity", "%s is given twice", quoteLabel(s.category))
		case s.value < 0 || s.value > 1:
			return r, errorf("affinity", "%s: %g is outside 0..1", quoteLabel(s.category), s.value)
		}
		if m.Affinity == nil {
			m.Affinity = make(map[string]float64, len(f.affinity))
		}
		m.Affinity[s.category] = s.value
	}

	for i, c := range f.cycles {
		q := quoteLabel(c.category)
		switch {
		case label(c.category) != "":
			return r, errorf("cycles", "category %d %s", i+1, label(c.category))
		case hasKey(m.Cycles, c.category):
			return r, errorf("cycles", "%s is given twice", q)
		case c.mean == nil:
			return r, errorf("cycles", "%s: mean_days is required", q)
		case *c.mean <= 0 || *c.mean > maxMeanDays:
			return r, errorf("cycles", "%s: mean_days %g is outside (0, %d]", q, *c.mean, maxMeanDays)
		case c.count < 0 || c.count > maxCount:
			return r, errorf("cycles", "%s: count %d is outside 0..%d", q, c.count, maxCount)
		}
		last, why := parseTime(c.last, p.loc, false)
		if why != "" {
			return r, errorf("cycles", "%s: last %s", q, why)
		}
		if m.Cycles == nil {
			m.Cycles = make(map[string]edge.Cycle, len(f.cycles))
		}
		m.Cycles[c.category] = edge.Cycle{MeanDays: *c.mean, Last: last, Count: c.count}
	}

	for i, c := range f.matrix {
		switch {
		case label(c.category) != "":
			return r, errorf("matrix", "category %d %s", i+1, label(c.category))
		case hasKey(m.Matrix, c.category):
			return r, errorf("matrix", "%s is given twice", quoteLabel(c.category))
		}
		cell, err := edge.ParseCell(strings.ToLower(c.cell))
		if err != nil {
			return r, errorf("matrix", "%s: %s is %w", quoteLabel(c.category), quoteLabel(c.cell), edge.ErrBadCell)
		}
		if m.Matrix == nil {
			m.Matrix = make(map[string]edge.Cell, len(f.matrix))
		}
		m.Matrix[c.category] = cell
	}

	// Card UIDs and barcodes identify members: reasons never quote them.
	if len(f.cards) > maxCards {
		return r, errorf("cards", "%d cards; at most %d per member", len(f.cards), maxCards)
	}
	for i, s := range f.cards {
		uid, why := parseCard(strings.TrimSpace(s))
		if why != "" {
			return r, errorf("cards", "card %d %s", i+1, why)
		}
		if !slices.ContainsFunc(r.Cards, func(b []byte) bool { return bytes.Equal(b, uid) }) {
			r.Cards = append(r.Cards, uid)
		}
	}
	if why = checkBarcode(f.loyalty); why != "" {
		return r, errorf("loyalty_barcode", "%s", why)
	}
	if why = checkBarcode(f.list); why != "" {
		return r, errorf("list_barcode", "%s", why)
	}
	if f.list != "" && f.list == f.loyalty {
		return r, errorf("list_barcode", "is the same as loyalty_barcode")
	}
	r.Loyalty, r.List = f.loyalty, f.list
	return r, nil
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// quoteLabel quotes a category for a reason, shortened if long.
func quoteLabel(s string) string {
	if len(s) > maxLabelBytes {
		s = s[:maxLabelBytes] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// accept refuses a member whose id, cards or barcodes an earlier good line
// already used, and remembers them otherwise.
func (p *memberParser) accept(line int, r *edge.MemberRecord) *fieldError {
	id := p.seen.key(domainMember, r.Member.ID)
	if l := p.seen.line(id); l > 0 {
		return errorf("id", "is already on line %d", l)
	}
	cards := make([]uint64, len(r.Cards))
	for i, uid := range r.Cards {
		cards[i] = p.seen.key(domainCard, string(uid))
		if l := p.seen.line(cards[i]); l > 0 {
			return errorf("cards", "card %d is already on line %d", i+1, l)
		}
	}
	var codes []uint64
	for _, bc := range []struct{ field, code string }{{"loyalty_barcode", r.Loyalty}, {"list_barcode", r.List}} {
		if bc.code == "" {
			continue
		}
		k := p.seen.key(domainBarcode, bc.code)
		if l := p.seen.line(k); l > 0 {
			return errorf(bc.field, "is already on line %d", l)
		}
		codes = append(codes, k)
	}
	p.seen.add(id, line)
	for _, k := range cards {
		p.seen.add(k, line)
	}
	for _, k := range codes {
		p.seen.add(k, line)
	}
	return nil
}
