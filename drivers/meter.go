package drivers

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// Reasons a driver rejects input. They are metric label values: keep the
// set small and stable.
const (
	RejectFraming  = "framing"  // bytes that do not form a frame (noise, overlong, cut short)
	RejectChecksum = "checksum" // a frame whose checksum or check digit is wrong
	RejectParity   = "parity"   // a Wiegand frame with a wrong parity bit
	RejectBits     = "bits"     // a Wiegand frame of an unsupported length
	RejectFormat   = "format"   // well framed, but not a value this device produces
	RejectDropped  = "dropped"  // input the device or kernel reported lost (evdev SYN_DROPPED)
)

// Meter counts what one device produced. The daemon counts accepted events
// and reconnects; drivers count what they reject, by reason. A nil *Meter is
// valid and counts nothing, so drivers need no checks. Safe for concurrent
// use.
type Meter struct {
	accepted   atomic.Uint64
	reconnects atomic.Uint64
	lastSeen   atomic.Int64 // unix nanoseconds of the last accepted event
	mu         sync.Mutex
	rejected   map[string]uint64
}

// NewMeter returns an empty meter.
func NewMeter() *Meter { return &Meter{rejected: map[string]uint64{}} }

// Accept counts an event the device produced at t.
func (m *Meter) Accept(t time.Time) {
	if m == nil {
		return
	}
	m.accepted.Add(1)
	m.lastSeen.Store(t.UnixNano())
}

// Reject counts input skipped for reason (one of the Reject constants).
func (m *Meter) Reject(reason string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.rejected[reason]++
	m.mu.Unlock()
}

// Reconnect counts a reopening of the device after a failure.
func (m *Meter) Reconnect() {
	if m == nil {
		return
	}
	m.reconnects.Add(1)
}

// MeterStats is a snapshot of a Meter.
type MeterStats struct {
	Accepted   uint64
	Rejected   map[string]uint64 // by reason
	Reconnects uint64
	LastSeen   time.Time // zero before the first accepted event
}

// Stats returns a snapshot.
func (m *Meter) Stats() MeterStats {
	if m == nil {
		return MeterStats{Rejected: map[string]uint64{}}
	}
	m.mu.Lock()
	rej := maps.Clone(m.rejected)
	m.mu.Unlock()
	s := MeterStats{Accepted: m.accepted.Load(), Rejected: rej, Reconnects: m.reconnects.Load()}
	if t := m.lastSeen.Load(); t != 0 {
		s.LastSeen = time.Unix(0, t)
	}
	return s
}
