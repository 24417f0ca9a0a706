package downlink

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type counters struct {
	attaches, requests, retries                        atomic.Uint64
	pagesIn, pages, stale, bad, dropped, applyErrors   atomic.Uint64
	txs, changes, members, offers, skipped, superseded atomic.Uint64
	erasures, purged, acks                             atomic.Uint64
	resent, badResends                                 atomic.Uint64
	snapshots, snapshotsDone, swept                    atomic.Uint64
	head                                               atomic.Uint64
	chunk                                              atomic.Int64
	lastApply                                          atomic.Int64 // unix nanoseconds
}

// Stats are the downlink's counters since New.
type Stats struct {
	Attached bool   // a client is attached
	Version  uint64 // the applied version (cursor)
	Head     uint64 // HQ's head as last published
	Snapshot bool   // a snapshot is in progress

	Attaches    uint64 // Attach calls that subscribed
	Requests    uint64 // requests published, retries included
	Retries     uint64 // requests published again after RetryAfter
	PagesIn     uint64 // messages received on the changes topic
	Pages       uint64 // pages applied
	Stale       uint64 // pages ignored: not the answer asked for nor the next changes
	Bad         uint64 // payloads that failed to decode (pages and heads)
	Dropped     uint64 // pages dropped because the queue was full
	Resent      uint64 // events queued again on HQ's request
	BadResends  uint64 // resend requests that failed to decode
	ApplyErrors uint64 // pages whose application failed (asked for again)

	Transactions uint64 // write transactions of applied changes
	Changes      uint64 // member and offer changes applied
	Members      uint64 // member upserts applied
	Offers       uint64 // offer upserts, deletions and swept offers
	Skipped      uint64 // changes that could not be applied (malformed, unknown kind)
	Superseded   uint64 // upserts skipped because the member is erased later in the page

	Erasures      uint64 // members erased
	Purged        uint64 // queued outbox events removed because they named an erased member
	Acks          uint64 // member.erased acknowledgements appended to the outbox
	Snapshots     uint64 // snapshots started
	SnapshotsDone uint64 // snapshots completed
	Swept         uint64 // members deleted by snapshot sweeps

	LastApply time.Time // when the cursor last moved
	TxChanges int       // changes per transaction now (adapted to Options.TxHold)
}

// Stats returns the current counters. It is safe to call from any
// goroutine.
func (d *Downlink) Stats() Stats {
	d.mu.Lock()
	attached := d.client != nil
	d.mu.Unlock()
	c := &d.stats
	s := Stats{
		Attached: attached, Version: d.cursor.Load(), Head: c.head.Load(),
		Attaches: c.attaches.Load(), Requests: c.requests.Load(), Retries: c.retries.Load(),
		PagesIn: c.pagesIn.Load(), Pages: c.pages.Load(), Stale: c.stale.Load(), Bad: c.bad.Load(),
		Dropped: c.dropped.Load(), ApplyErrors: c.applyErrors.Load(),
		Resent: c.resent.Load(), BadResends: c.badResends.Load(),
		Transactions: c.txs.Load(), Changes: c.changes.Load(), Members: c.members.Load(),
		Offers: c.offers.Load(), Skipped: c.skipped.Load(), Superseded: c.superseded.Load(),
		Erasures: c.erasures.Load(), Purged: c.purged.Load(), Acks: c.acks.Load(),
		Snapshots: c.snapshots.Load(), SnapshotsDone: c.snapshotsDone.Load(), Swept: c.swept.Load(),
		TxChanges: int(c.chunk.Load()),
	}
	s.Snapshot = d.inSnapshot.Load()
	if t := c.lastApply.Load(); t != 0 {
		s.LastApply = time.Unix(0, t)
	}
	return s
}

var (
	descAttached = desc("attached", "1 while a broker connection is attached, else 0.")
	descVersion  = desc("version", "The change log version applied.")
	descHead     = desc("head_version", "HQ's change log head as last published.")
	descSnapshot = desc("snapshot_in_progress", "1 while a snapshot is being applied, else 0.")
	descLast     = desc("last_apply_timestamp_seconds", "When the applied version last moved (Unix time).")
)

func desc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("redcarpet_downlink_"+name, help, nil, nil)
}

type counterDesc struct {
	d *prometheus.Desc
	v func(*Stats) uint64
}

var counterDescs = []counterDesc{
	{desc("requests_total", "Change requests published, retries included."), func(s *Stats) uint64 { return s.Requests }},
	{desc("request_retries_total", "Requests published again after no answer."), func(s *Stats) uint64 { return s.Retries }},
	{desc("pages_received_total", "Messages received on the changes topic."), func(s *Stats) uint64 { return s.PagesIn }},
	{desc("pages_applied_total", "Pages applied."), func(s *Stats) uint64 { return s.Pages }},
	{desc("pages_stale_total", "Pages ignored as stale or duplicate."), func(s *Stats) uint64 { return s.Stale }},
	{desc("payloads_bad_total", "Pages and heads that failed to decode."), func(s *Stats) uint64 { return s.Bad }},
	{desc("pages_dropped_total", "Pages dropped because the queue was full."), func(s *Stats) uint64 { return s.Dropped }},
	{desc("events_resent_total", "Events queued again because HQ asked for them."), func(s *Stats) uint64 { return s.Resent }},
	{desc("resend_requests_bad_total", "Resend requests that failed to decode."), func(s *Stats) uint64 { return s.BadResends }},
	{desc("apply_errors_total", "Pages whose application failed."), func(s *Stats) uint64 { return s.ApplyErrors }},
	{desc("transactions_total", "Write transactions of applied changes."), func(s *Stats) uint64 { return s.Transactions }},
	{desc("changes_applied_total", "Member and offer changes applied."), func(s *Stats) uint64 { return s.Changes }},
	{desc("changes_skipped_total", "Changes that could not be applied."), func(s *Stats) uint64 { return s.Skipped }},
	{desc("erasures_total", "Members erased."), func(s *Stats) uint64 { return s.Erasures }},
	{desc("events_purged_total", "Queued events removed because they named an erased member."), func(s *Stats) uint64 { return s.Purged }},
	{desc("erasure_acks_total", "Erasure acknowledgements queued for HQ."), func(s *Stats) uint64 { return s.Acks }},
	{desc("snapshots_total", "Snapshots started."), func(s *Stats) uint64 { return s.Snapshots }},
	{desc("snapshots_completed_total", "Snapshots completed."), func(s *Stats) uint64 { return s.SnapshotsDone }},
	{desc("members_swept_total", "Members deleted by snapshot sweeps."), func(s *Stats) uint64 { return s.Swept }},
}

// Describe implements prometheus.Collector.
func (d *Downlink) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(d, ch) }

// Collect implements prometheus.Collector: register the Downlink itself.
func (d *Downlink) Collect(ch chan<- prometheus.Metric) {
	s := d.Stats()
	g := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	g(descAttached, b(s.Attached))
	g(descVersion, float64(s.Version))
	g(descHead, float64(s.Head))
	g(descSnapshot, b(s.Snapshot))
	if !s.LastApply.IsZero() {
		g(descLast, float64(s.LastApply.UnixNano())/1e9)
	}
	for _, c := range counterDescs {
		ch <- prometheus.MustNewConstMetric(c.d, prometheus.CounterValue, float64(c.v(&s)))
	}
}
