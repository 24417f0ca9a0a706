package catalog

import (
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// Offer columns, in documentation order.
const (
	oID = iota
	oTitle
	oBody
	oChannels
	oSegments
	oStages
	oCategories
	oValidFrom
	oValidTo
	oDiscount
	oCap
	oDepth
	oHoldout
)

var offerColumns = []string{
	oID: "id", oTitle: "title", oBody: "body", oChannels: "channels", oSegments: "segments",
	oStages: "stages", oCategories: "categories", oValidFrom: "valid_from", oValidTo: "valid_to",
	oDiscount: "discount_pct", oCap: "cap_per_member", oDepth: "depth", oHoldout: "holdout_pct",
}

// OfferColumns returns the offer CSV columns (and JSON field names).
func OfferColumns() []string { return slices.Clone(offerColumns) }

// ReadOffers streams offers from r in format f, calling yield for each
// valid line and bad for each invalid one (bad may be nil). loc is the
// store's time zone, for valid_from and valid_to given as dates (nil means
// UTC). Errors and repeats behave as in ReadMembers; an offer id used by an
// earlier good line makes the line bad.
func ReadOffers(r io.Reader, f Format, loc *time.Location, yield func(edge.Offer) error, bad func(LineError)) (Result, error) {
	p := &offerParser{loc: loc, seen: newSeen()}
	if p.loc == nil {
		p.loc = time.UTC
	}
	k := &kind[edge.Offer]{
		columns:  offerColumns,
		required: []int{oID, oTitle, oChannels, oValidFrom, oValidTo},
		fromCSV:  p.fromCSV,
		fromJSON: p.fromJSON,
		accept:   p.accept,
	}
	return read(r, f, k, yield, bad)
}

type offerParser struct {
	loc  *time.Location
	seen *seen
}

// offerFields is an offer as written in either format, before checks.
type offerFields struct {
	id, title, body                        string
	channels, segments, stages, categories []string
	validFrom, validTo                     string
	discount                               float64
	capPerMember                           int
	depth                                  []cellDepth
	holdout                                float64
}

// cellDepth is one item of an offer's segment matrix, as written.
type cellDepth struct {
	cell string
	pct  float64
}

func (p *offerParser) fromCSV(r row) (edge.Offer, *fieldError) {
	f := offerFields{
		id: r.get(oID), title: r.get(oTitle), body: r.get(oBody),
		channels: splitList(r.get(oChannels)), segments: splitList(r.get(oSegments)),
		stages: splitList(r.get(oStages)), categories: splitList(r.get(oCategories)),
		validFrom: r.get(oValidFrom), validTo: r.get(oValidTo),
	}
	var why string
	if s := r.get(oDiscount); s != "" {
		if f.discount, why = parseFloat(strings.TrimSuffix(s, "%")); why != "" {
			return edge.Offer{}, errorf("discount_pct", "%s", why)
		}
	}
	if s := r.get(oCap); s != "" {
		if f.capPerMember, why = parseInt(s); why != "" {
			return edge.Offer{}, errorf("cap_per_member", "%s", why)
		}
	}
	for i, item := range splitList(r.get(oDepth)) {
		cell, v, ok := strings.Cut(item, "=")
		if !ok {
			return edge.Offer{}, errorf("depth", "item %d is not cell=percent (e.g. switcher/heavy=30)", i+1)
		}
		cell = strings.TrimSpace(cell)
		n, why := parseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"))
		if why != "" {
			return edge.Offer{}, errorf("depth", "%s: %s", quoteLabel(cell), why)
		}
		f.depth = append(f.depth, cellDepth{cell, n})
	}
	if s := r.get(oHoldout); s != "" {
		if f.holdout, why = parseFloat(strings.TrimSuffix(s, "%")); why != "" {
			return edge.Offer{}, errorf("holdout_pct", "%s", why)
		}
	}
	return p.build(&f)
}

// offerJSON is one JSON line. Field names are those of the CSV columns.
type offerJSON struct {
	ID           string             `json:"id"`
	Title        string             `json:"title"`
	Body         string             `json:"body"`
	Channels     []string           `json:"channels"`
	Segments     []string           `json:"segments"`
	Stages       []string           `json:"stages"`
	Categories   []string           `json:"categories"`
	ValidFrom    string             `json:"valid_from"`
	ValidTo      string             `json:"valid_to"`
	DiscountPct  float64            `json:"discount_pct"`
	CapPerMember int                `json:"cap_per_member"`
	Depth        map[string]float64 `json:"depth"`
	HoldoutPct   float64            `json:"holdout_pct"`
}

func (p *offerParser) fromJSON(line []byte) (edge.Offer, *fieldError) {
	var j offerJSON
	if fe := decodeJSON(line, &j); fe != nil {
		return edge.Offer{}, fe
	}
	f := offerFields{
		id: strings.TrimSpace(j.ID), title: strings.TrimSpace(j.Title), body: strings.TrimSpace(j.Body),
		channels: j.Channels, segments: j.Segments, stages: j.Stages, categories: j.Categories,
		validFrom: strings.TrimSpace(j.ValidFrom), validTo: strings.TrimSpace(j.ValidTo),
		discount: j.DiscountPct, capPerMember: j.CapPerMember, holdout: j.HoldoutPct,
	}
	for _, cell := range slices.Sorted(maps.Keys(j.Depth)) {
		f.depth = append(f.depth, cellDepth{strings.TrimSpace(cell), j.Depth[cell]})
	}
	return p.build(&f)
}

// build checks an offer's fields, the same for both formats.
func (p *offerParser) build(f *offerFields) (edge.Offer, *fieldError) {
	var (
		o   edge.Offer
		why string
		fe  *fieldError
	)
	if why = checkID(f.id); why != "" {
		return o, errorf("id", "%s", why)
	}
	o.ID = f.id
	if f.title == "" {
		return o, errorf("title", "is required")
	}
	if why = checkText(f.title, maxTitleBytes, false); why != "" {
		return o, errorf("title", "%s", why)
	}
	o.Title = f.title
	if why = checkText(f.body, maxBodyBytes, true); why != "" {
		return o, errorf("body", "%s", why)
	}
	o.Body = f.body

	if len(f.channels) == 0 {
		return o, errorf("channels", "is required (%s, %s or both)", edge.ChannelSignage, edge.ChannelCheckout)
	}
	for _, s := range f.channels {
		ch, why := parseChannel(s)
		if why != "" {
			return o, errorf("channels", "%s", why)
		}
		if !slices.Contains(o.Channels, ch) {
			o.Channels = append(o.Channels, ch)
		}
	}
	if o.Segments, fe = labels("segments", f.segments); fe != nil {
		return o, fe
	}
	for _, s := range f.stages {
		st, why := parseStage(s)
		if why == "" && st == "" {
			why = "an item is empty"
		}
		if why != "" {
			return o, errorf("stages", "%s", why)
		}
		if !slices.Contains(o.Stages, st) {
			o.Stages = append(o.Stages, st)
		}
	}
	if o.Categories, fe = labels("categories", f.categories); fe != nil {
		return o, fe
	}

	if o.ValidFrom, why = parseTime(f.validFrom, p.loc, false); why != "" {
		return o, errorf("valid_from", "%s", why)
	}
	if o.ValidTo, why = parseTime(f.validTo, p.loc, true); why != "" {
		return o, errorf("valid_to", "%s", why)
	}
	if !o.ValidTo.After(o.ValidFrom) {
		return o, errorf("valid_to", "is not after valid_from")
	}
	if f.discount < 0 || f.discount > 100 {
		return o, errorf("discount_pct", "%g is outside 0..100", f.discount)
	}
	o.DiscountPct = f.discount
	if f.capPerMember < 0 || f.capPerMember > maxCount {
		return o, errorf("cap_per_member", "%d is outside 0..%d", f.capPerMember, maxCount)
	}
	o.CapPerMember = f.capPerMember

	if len(f.depth) > 0 && len(o.Categories) == 0 {
		return o, errorf("depth", "needs categories: a member's cell is the one in the offer's category")
	}
	for _, d := range f.depth {
		cell, err := edge.ParseCell(strings.ToLower(d.cell))
		switch {
		case err != nil:
			return o, errorf("depth", "%s is not a segment-matrix cell (loyalty/usage: national, store or switcher / light, medium or heavy)", quoteLabel(d.cell))
		case hasKey(o.Depth, cell.String()):
			return o, errorf("depth", "%s is given twice", quoteLabel(cell.String()))
		case !(d.pct > 0 && d.pct <= 100):
			return o, errorf("depth", "%s: %g is not above 0 and at most 100", quoteLabel(cell.String()), d.pct)
		}
		if o.Depth == nil {
			o.Depth = make(map[string]float64, len(f.depth))
		}
		o.Depth[cell.String()] = d.pct
	}
	if f.holdout < 0 || f.holdout > edge.MaxHoldoutPct {
		return o, errorf("holdout_pct", "%g is outside 0..%d", f.holdout, edge.MaxHoldoutPct)
	}
	o.HoldoutPct = f.holdout
	if err := o.ValidateTargeting(); err != nil { // the rules above, checked where the engine relies on them
		return o, errorf("depth", "%v", err)
	}
	return o, nil
}

// accept refuses an offer whose id an earlier good line already used.
func (p *offerParser) accept(line int, o *edge.Offer) *fieldError {
	k := p.seen.key(domainOffer, o.ID)
	if l := p.seen.line(k); l > 0 {
		return errorf("id", "is already on line %d", l)
	}
	p.seen.add(k, line)
	return nil
}
