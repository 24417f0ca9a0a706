package sim

import (
	"maps"
	"slices"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// offerSpec is an offer with its validity relative to the local day of now:
// from (fromDay, fromHour) to (toDay, toHour), day 0 being today.
type offerSpec struct {
	id, title, body  string
	channels         []edge.Channel
	segments         []string
	stages           []edge.Stage
	categories       []string
	pct              float64
	depth            map[string]float64 // segment matrix: percent by cell
	holdout          float64            // percent of members held out
	capPerMember     int
	fromDay, toDay   int
	fromHour, toHour int
}

// segments returns the segments of one brand loyalty at the given
// intensities, or at every intensity if none are given.
func segments(brand string, intensity ...string) []string {
	if len(intensity) == 0 {
		intensity = []string{"light", "medium", "heavy"}
	}
	s := make([]string, len(intensity))
	for i, in := range intensity {
		s[i] = brand + "-" + in
	}
	return s
}

// switchDepth is the segment matrix of an offer that wins shoppers over to
// the store's own brand: switchers get the most, the heavier the deeper;
// national-brand loyals a taste; members already loyal to the store's brand
// nothing (they buy it anyway).
func switchDepth() map[string]float64 {
	return map[string]float64{
		"switcher/heavy": 30, "switcher/medium": 25, "switcher/light": 20,
		"national/heavy": 15, "national/medium": 10, "national/light": 10,
	}
}

// loyaltyDepth is the segment matrix of an offer that rewards the store's
// brand: its loyal buyers by usage, and switchers a little.
func loyaltyDepth() map[string]float64 {
	return map[string]float64{
		"store/heavy": 20, "store/medium": 15, "store/light": 10,
		"switcher/heavy": 10, "switcher/medium": 10, "switcher/light": 5,
	}
}

// demoHoldout is the share of members held out of the offers HQ measures
// the lift of.
const demoHoldout = 10

// heavy is every heavy-intensity segment.
func heavy() []string {
	return []string{"national-brand-loyal-heavy", "store-brand-loyal-heavy", "switcher-heavy"}
}

func offerSpecs() []offerSpec {
	both := []edge.Channel{edge.ChannelSignage, edge.ChannelCheckout}
	signage := []edge.Channel{edge.ChannelSignage}
	checkout := []edge.Channel{edge.ChannelCheckout}
	winBack := []edge.Stage{edge.StageLapsing, edge.StageChurned}
	return []offerSpec{
		// Running offers for everyone.
		{id: "bakery-croissants", title: "Croissants: 4 for the price of 3", body: "Butter croissants baked here every morning.",
			channels: both, categories: []string{"bakery"}, pct: 25, holdout: demoHoldout, fromDay: -3, toDay: 4},
		{id: "bakery-sourdough", title: "Sourdough loaf -15%", body: "Slow-fermented, stone-baked.",
			channels: signage, categories: []string{"bakery"}, pct: 15, fromDay: -1, toDay: 6},
		{id: "dairy-greek-yoghurt", title: "Greek yoghurt -20%", body: "All 500 g pots.",
			channels: both, categories: []string{"dairy"}, pct: 20, holdout: demoHoldout, fromDay: -5, toDay: 2},
		{id: "produce-loire-apples", title: "Loire valley apples -20%", body: "Crisp, local and seasonal.",
			channels: signage, categories: []string{"produce"}, pct: 20, fromDay: -2, toDay: 5},
		{id: "produce-veg-box", title: "Seasonal vegetable box -15%", body: "One box per member.",
			channels: both, categories: []string{"produce"}, pct: 15, capPerMember: 1, fromDay: 0, toDay: 7},
		{id: "meat-poultry", title: "Free-range chicken -10%", body: "Label Rouge, whole or cuts.",
			channels: checkout, categories: []string{"meat"}, pct: 10, fromDay: -4, toDay: 3},
		{id: "wine-bordeaux", title: "Bordeaux reds -20%", body: "Up to two bottles per member.",
			channels: both, categories: []string{"wine"}, pct: 20, capPerMember: 2, fromDay: -6, toDay: 8},
		{id: "beauty-skincare", title: "Skincare -25%", body: "Creams, serums and cleansers.",
			channels: signage, categories: []string{"beauty"}, pct: 25, fromDay: -10, toDay: 10},
		{id: "household-detergent", title: "Laundry detergent -40%", body: "Limit two per member.",
			channels: checkout, categories: []string{"household"}, pct: 40, capPerMember: 2, fromDay: -2, toDay: 5},
		{id: "baby-nappies", title: "Nappies -20%", body: "All sizes, all brands.",
			channels: both, categories: []string{"baby"}, pct: 20, capPerMember: 3, fromDay: -7, toDay: 7},
		{id: "baby-food-jars", title: "Baby food jars -10%", body: "Organic recipes from 4 months.",
			channels: signage, categories: []string{"baby"}, pct: 10, fromDay: -1, toDay: 13},
		{id: "pet-food", title: "Pet food -15%", body: "Dry and wet food for cats and dogs.",
			channels: both, categories: []string{"pet"}, pct: 15, fromDay: -3, toDay: 11},
		{id: "frozen-pizza", title: "Frozen pizza -20%", body: "Stone-baked, ready in 12 minutes.",
			channels: signage, categories: []string{"frozen"}, pct: 20, fromDay: -1, toDay: 3},
		{id: "frozen-vegetables", title: "Frozen vegetables -12%", body: "Picked and frozen within hours.",
			channels: checkout, categories: []string{"frozen", "produce"}, pct: 12, fromDay: -8, toDay: 6},
		{id: "basket-weekend-5", title: "5% off your whole basket", body: "This week, for every member.",
			channels: checkout, pct: 5, holdout: demoHoldout, capPerMember: 1, fromDay: -2, toDay: 5},

		// Targeted at segments, or at cells of a category's segment matrix
		// (brand loyalty by usage), with a depth per cell.
		{id: "dairy-savoie-cheeses", title: "Savoie cheeses -10%", body: "Beaufort, Reblochon, Tomme.",
			channels: signage, segments: segments("national-brand-loyal"), categories: []string{"dairy"}, pct: 10, fromDay: -3, toDay: 4},
		{id: "dairy-store-brand-milk", title: "Our own milk -12%", body: "From farms within 100 km.",
			channels: checkout, segments: append(segments("store-brand-loyal"), segments("switcher")...),
			categories: []string{"dairy"}, pct: 12, fromDay: -1, toDay: 6},
		{id: "dairy-try-our-brand", title: "Try our yoghurts", body: "Same taste, our label.",
			channels: both, categories: []string{"dairy"}, pct: 30, depth: switchDepth(), holdout: demoHoldout,
			capPerMember: 1, fromDay: -1, toDay: 9},
		{id: "household-store-brand", title: "Our cleaning range", body: "Ecolabel certified.",
			channels: both, categories: []string{"household"}, pct: 15, depth: loyaltyDepth(), fromDay: -4, toDay: 10},
		{id: "produce-store-brand", title: "Our fruit and vegetables", body: "Grown within 100 km, our label.",
			channels: checkout, categories: []string{"produce", "frozen"}, pct: 20, depth: switchDepth(), holdout: demoHoldout,
			fromDay: -2, toDay: 12},
		{id: "meat-barbecue-pack", title: "Barbecue pack -25%", body: "Sausages, skewers and marinated chicken.",
			channels: both, segments: heavy(), categories: []string{"meat"}, pct: 25, capPerMember: 1, fromDay: 0, toDay: 4},
		{id: "wine-champagne", title: "Champagne -15%", body: "For our most loyal customers.",
			channels: checkout, segments: heavy(), categories: []string{"wine"}, pct: 15, capPerMember: 2, fromDay: -2, toDay: 12},
		{id: "produce-organic", title: "Organic fruit and vegetables -10%", body: "Certified organic, local where possible.",
			channels: signage, segments: segments("national-brand-loyal", "medium", "heavy"),
			categories: []string{"produce"}, pct: 10, fromDay: -5, toDay: 2},

		// Lifecycle offers: welcome for new members, win-back for lapsing
		// and churned ones.
		{id: "welcome-beauty", title: "Welcome! Beauty -30%", body: "A first gift for new members.",
			channels: both, stages: []edge.Stage{edge.StageNew}, categories: []string{"beauty"}, pct: 30, capPerMember: 1, fromDay: -30, toDay: 30},
		{id: "winback-bakery", title: "We missed you: bakery -25%", body: "Come and taste what's new.",
			channels: both, stages: winBack, categories: []string{"bakery"}, pct: 25, holdout: demoHoldout,
			capPerMember: 1, fromDay: -14, toDay: 14},
		{id: "winback-fresh", title: "Welcome back: fresh food -20%", body: "Dairy, produce and meat.",
			channels: both, stages: []edge.Stage{edge.StageChurned}, categories: []string{"dairy", "produce", "meat"},
			pct: 20, capPerMember: 1, fromDay: -14, toDay: 14},
		{id: "winback-wine", title: "Back for the wine fair? -20%", body: "A selection for returning members.",
			channels: checkout, stages: []edge.Stage{edge.StageLapsing}, categories: []string{"wine"}, pct: 20, capPerMember: 1, fromDay: -7, toDay: 7},
		{id: "active-pet-loyalty", title: "Pet club: treats -10%", body: "For regular pet shoppers.",
			channels: signage, stages: []edge.Stage{edge.StageActive}, categories: []string{"pet"}, pct: 10, fromDay: -3, toDay: 20},

		// Validity edge cases: later today, expired, not yet started.
		{id: "bakery-evening", title: "Evening bakery -30%", body: "From 19:00 until closing, while stocks last.",
			channels: both, categories: []string{"bakery"}, pct: 30, fromDay: 0, fromHour: 19, toDay: 0, toHour: 23},
		{id: "wine-autumn-fair", title: "Autumn wine fair -30%", body: "Our yearly fair is over; see you next year.",
			channels: both, categories: []string{"wine"}, pct: 30, fromDay: -20, toDay: -6},
		{id: "pet-treats", title: "Pet treats -20%", body: "Ended last night.",
			channels: signage, categories: []string{"pet"}, pct: 20, fromDay: -10, toDay: 0},
		{id: "frozen-ice-cream", title: "Ice cream season -25%", body: "Starts in three days.",
			channels: both, categories: []string{"frozen"}, pct: 25, capPerMember: 4, fromDay: 3, toDay: 17},
	}
}

// Offers returns the demo's offers, valid relative to now in loc: most run
// from a few days before today to a few days after; some target segments or
// lifecycle stages (win-back offers for lapsing and churned members); some
// cap redemptions per member. Three have a segment matrix (Depth): the
// store-brand switch offers "dairy-try-our-brand" and "produce-store-brand"
// (deepest for heavy switchers, nothing for store-brand loyals) and the
// loyalty offer "household-store-brand" (deepest for heavy store-brand
// loyals, nothing for national-brand loyals). Six hold out 10% of their
// members (HoldoutPct), so the demo records withheld offers and HQ can
// measure their lift: "basket-weekend-5", "bakery-croissants",
// "dairy-greek-yoghurt", "dairy-try-our-brand", "produce-store-brand" and
// "winback-bakery". The validity edge cases are there on purpose:
// "bakery-evening" runs from 19:00 to 23:00 today, "wine-autumn-fair" and
// "pet-treats" have expired (the latter at midnight), and
// "frozen-ice-cream" starts in three days. Windows start and end at local
// midnight unless an hour is given.
func Offers(now time.Time, loc *time.Location) []edge.Offer {
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := now.In(loc).Date()
	at := func(day, hour int) time.Time { return time.Date(y, m, d+day, hour, 0, 0, 0, loc) }
	specs := offerSpecs()
	out := make([]edge.Offer, len(specs))
	for i, s := range specs {
		out[i] = edge.Offer{
			ID:           s.id,
			Title:        s.title,
			Body:         s.body,
			Channels:     slices.Clone(s.channels),
			Segments:     slices.Clone(s.segments),
			Stages:       slices.Clone(s.stages),
			Categories:   slices.Clone(s.categories),
			ValidFrom:    at(s.fromDay, s.fromHour),
			ValidTo:      at(s.toDay, s.toHour),
			DiscountPct:  s.pct,
			CapPerMember: s.capPerMember,
			Depth:        maps.Clone(s.depth),
			HoldoutPct:   s.holdout,
		}
	}
	return out
}
