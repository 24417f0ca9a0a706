package catalog

import (
	"io"
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
)

var offerColumns = []string{
	oID: "id", oTitle: "title", oBody: "body", oChannels: "channels", oSegments: "segments",
	oStages: "stages", oCategories: "categories", oValidFrom: "valid_from", oValidTo: "valid_to",
	oDiscount: "discount_pct", oCap: "cap_per_member",
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
	return p.build(&f)
}

// offerJSON is one JSON line. Field names are those of the CSV columns.
type offerJSON struct {
	ID           string   `json:"id"`
	Title        string   `json:"title"`
	Body         string   `json:"body"`
	Channels     []string `json:"channels"`
	Segments     []string `json:"segments"`
	Stages       []string `json:"stages"`
	Categories   []string `json:"categories"`
	ValidFrom    string   `json:"valid_from"`
	ValidTo      string   `json:"valid_to"`
	DiscountPct  float64  `json:"discount_pct"`
	CapPerMember int      `json:"cap_per_member"`
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
		discount: j.DiscountPct, capPerMember: j.CapPerMember,
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
