package edge

import "time"

// Stats is a snapshot of the engine for the overview page and metrics. The
// engine publishes a new one after every batch; readers never block it.
type Stats struct {
	// At is the engine clock when the snapshot was taken (simulated time in
	// the demo).
	At            time.Time `json:"at"`
	IntervalStart time.Time `json:"interval_start"`
	// Occupancy is the visitors inside (staff excluded), as counted up to
	// Options.StaffWindow ago: a crossing counts once no staff badge read
	// can claim it any more.
	Occupancy int            `json:"occupancy"`
	Doors     []DoorStats    `json:"doors"`
	Devices   []DeviceStatus `json:"devices"`
	// Today is the trading day so far, for the store dashboard; nil until
	// the engine has counted anything.
	Today *TrafficToday `json:"today,omitempty"`

	Processed    uint64 `json:"events_processed"`   // device events handled
	Recognised   uint64 `json:"members_recognised"` // recognitions of known members
	UnknownCards uint64 `json:"unknown_cards"`      // cards and loyalty codes that matched nobody
	OffersShown  uint64 `json:"offers_shown"`       // exposures
	Footfall     uint64 `json:"footfall_intervals"` // intervals closed
	Baskets      uint64 `json:"baskets_closed"`     // baskets closed at the lanes
	Redemptions  uint64 `json:"offers_redeemed"`    // offers redeemed on them
	Plays        uint64 `json:"offers_played"`      // personal offers the signage screens reported played
	Committed    uint64 `json:"events_committed"`   // business events written to the outbox
	CommitErrors uint64 `json:"commit_errors"`      // failed outbox writes (retried)
	Uncommitted  int    `json:"uncommitted"`        // business events waiting for a retry
	Dropped      uint64 `json:"events_dropped"`     // business events dropped: invalid, or beyond MaxPending while the outbox failed
	Ignored      uint64 `json:"events_ignored"`     // events from unknown devices or of no use
}

// DoorStats counts one door's crossings in the open interval and the open
// trading day, including those still waiting for the staff window (a staff
// crossing counts in In and Out too); occupancy counts them only once they
// waited it.
type DoorStats struct {
	Door     string `json:"door"`
	In       int    `json:"in"`
	Out      int    `json:"out"`
	InToday  int    `json:"in_today"`
	OutToday int    `json:"out_today"`
}

// TrafficToday is the open trading day: its closed intervals and, last, the
// open interval so far (its End is the engine clock). The engine shares one
// value between snapshots until it changes: never modify it.
type TrafficToday struct {
	Day       string    `json:"day"` // YYYY-MM-DD
	Intervals []Traffic `json:"intervals"`
	Occupancy int       `json:"occupancy"` // visitors inside now
	Peak      int       `json:"peak"`      // today's highest occupancy
	Members   int       `json:"members"`   // distinct members who visited today
}
