package main

import (
	"runtime"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// collector exports the daemon's counters. Components keep their own atomic
// counters; this one method reads them at scrape time.
type collector struct{ d *daemon }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("redcarpet_"+name, help, labels, nil)
}

var (
	descBuild          = desc("build_info", "Version, commit and Go version of the running daemon (always 1).", "version", "commit", "goversion")
	descInboxAccepted  = desc("engine_input_events_total", "Device events queued for the engine.")
	descInboxFull      = desc("engine_input_full_total", "Sends that found the engine's input full and had to wait.")
	descInboxLen       = desc("engine_input_queued", "Device events waiting for the engine.")
	descProcessed      = desc("engine_events_processed_total", "Device events handled by the engine.")
	descRecognised     = desc("members_recognised_total", "Recognitions of known members.")
	descUnknown        = desc("unknown_cards_total", "Cards and loyalty codes that matched no member.")
	descShown          = desc("offers_shown_total", "Offers put on a screen.")
	descIntervals      = desc("footfall_intervals_total", "Footfall intervals closed.")
	descIgnored        = desc("engine_events_ignored_total", "Device events from unknown devices or of no use.")
	descCommitted      = desc("engine_events_committed_total", "Business events written to the outbox.")
	descCommitErrors   = desc("engine_commit_errors_total", "Failed outbox writes (events kept and retried).")
	descDropped        = desc("engine_events_dropped_total", "Business events dropped while the outbox could not be written.")
	descOccupancy      = desc("occupancy_people", "People in the store (estimate).")
	descDoorCrossings  = desc("door_crossings_today", "Door crossings today.", "door", "direction")
	descDevice         = desc("device_up", "1 when the device is up.", "device", "kind")
	descDeviceReads    = desc("device_reads_total", "Events a device produced (card reads, scans, crossings).", "device")
	descDeviceRejects  = desc("device_rejected_total", "Input a device's driver skipped, by reason.", "device", "reason")
	descDeviceReopens  = desc("device_reconnects_total", "Times a device was reopened after a failure.", "device")
	descDeviceLastSeen = desc("device_last_seen_timestamp_seconds", "When the device last produced an event.", "device")
	descBacklog        = desc("outbox_backlog_events", "Events waiting to be sent to HQ.")
	descOutboxBytes    = desc("outbox_bytes", "Bytes of events waiting to be sent to HQ (data.outbox_quota_mib bounds them).")
	descOutboxDropped  = desc("outbox_dropped_total", "Events dropped under the outbox quota, by priority (0 never is).", "priority")
	descAppended       = desc("outbox_appended_total", "Events appended to the outbox.")
	descOutboxCommits  = desc("outbox_commits_total", "Outbox transactions committed.")
	descOutboxErrors   = desc("outbox_commit_errors_total", "Outbox transactions that failed.")
	descConnected      = desc("uplink_connected", "1 while connected to the HQ broker.")
	descConnects       = desc("uplink_connects_total", "Connections to the HQ broker.")
	descConnectFails   = desc("uplink_connect_failures_total", "Failed connection attempts.")
	descMessages       = desc("uplink_messages_total", "MQTT messages published.")
	descEventsSent     = desc("uplink_events_sent_total", "Events published, resends included.")
	descEventsAcked    = desc("uplink_events_acked_total", "Events acknowledged by the broker and deleted from the outbox.")
	descLastAck        = desc("uplink_last_ack_timestamp_seconds", "Time of the last PUBACK.")
	descDBRecovered    = desc("database_recovered_total", "Corrupt database files moved aside and replaced by a fresh one at this start.")
)

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	gauge(descBuild, 1, Version, Commit, runtime.Version())
	in := c.d.inbox.Stats()
	counter(descInboxAccepted, float64(in.Accepted))
	counter(descInboxFull, float64(in.Full))
	gauge(descInboxLen, float64(in.Len))
	recovered := 0.0
	if c.d.db.corrupt != nil {
		recovered = 1
	}
	counter(descDBRecovered, recovered)

	e := c.d.engine.Stats()
	counter(descProcessed, float64(e.Processed))
	counter(descRecognised, float64(e.Recognised))
	counter(descUnknown, float64(e.UnknownCards))
	counter(descShown, float64(e.OffersShown))
	counter(descIntervals, float64(e.Footfall))
	counter(descIgnored, float64(e.Ignored))
	counter(descCommitted, float64(e.Committed))
	counter(descCommitErrors, float64(e.CommitErrors))
	counter(descDropped, float64(e.Dropped))
	gauge(descOccupancy, float64(e.Occupancy))
	for _, dr := range e.Doors {
		gauge(descDoorCrossings, float64(dr.InToday), dr.Door, "in")
		gauge(descDoorCrossings, float64(dr.OutToday), dr.Door, "out")
	}
	for _, dv := range e.Devices {
		up := 0.0
		if dv.State == "up" {
			up = 1
		}
		gauge(descDevice, up, dv.Device, dv.Kind)
	}

	for name, m := range c.d.meters {
		ms := m.Stats()
		counter(descDeviceReads, float64(ms.Accepted), name)
		counter(descDeviceReopens, float64(ms.Reconnects), name)
		for reason, n := range ms.Rejected {
			counter(descDeviceRejects, float64(n), name, reason)
		}
		if !ms.LastSeen.IsZero() {
			gauge(descDeviceLastSeen, float64(ms.LastSeen.UnixNano())/1e9, name)
		}
	}

	ob := c.d.db.outbox.Stats()
	gauge(descBacklog, float64(ob.Backlog))
	gauge(descOutboxBytes, float64(ob.Bytes))
	for p, n := range ob.Dropped {
		counter(descOutboxDropped, float64(n), strconv.Itoa(p))
	}
	counter(descAppended, float64(ob.Appended))
	counter(descOutboxCommits, float64(ob.Commits))
	counter(descOutboxErrors, float64(ob.CommitErrors))

	up := c.d.uplink.Stats()
	b := 0.0
	if up.Connected {
		b = 1
	}
	gauge(descConnected, b)
	counter(descConnects, float64(up.Connects))
	counter(descConnectFails, float64(up.ConnectFailures))
	counter(descMessages, float64(up.Messages))
	counter(descEventsSent, float64(up.EventsSent))
	counter(descEventsAcked, float64(up.EventsAcked))
	if !up.LastAck.IsZero() {
		gauge(descLastAck, float64(up.LastAck.UnixNano())/1e9)
	}
}
