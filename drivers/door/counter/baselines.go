package counter

import (
	"maps"
	"sync"
	"time"
)

// Baselines keeps each counter's last accepted register values across daemon
// restarts. The integrator implements it on the gateway database; keys are
// counter ids, so a replaced counter (a new counter_id) starts with a fresh
// baseline instead of being compared with its predecessor's values.
//
// The handler calls Load once per counter in NewHandler, and Save after each
// push that changed a counter's values, before the push is answered.
// Calls for one counter never overlap; calls for different counters may.
// The handler does not keep or modify the maps it passes or receives.
type Baselines interface {
	// Load returns the registers saved for counterID and the time of the
	// sample they came from; ok is false when nothing was saved.
	Load(counterID string) (regs map[string]uint64, at time.Time, ok bool, err error)
	// Save replaces what is saved for counterID.
	Save(counterID string, regs map[string]uint64, at time.Time) error
}

// MemoryBaselines is a Baselines that keeps everything in memory: baselines
// survive a new Handler, not the process. For tests, and for a gateway that
// accepts a baseline-only first push after each restart. The zero value is
// ready to use.
type MemoryBaselines struct {
	mu sync.Mutex
	m  map[string]memoryBaseline
}

type memoryBaseline struct {
	regs map[string]uint64
	at   time.Time
}

// Load implements Baselines.
func (b *MemoryBaselines) Load(counterID string) (map[string]uint64, time.Time, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[counterID]
	if !ok {
		return nil, time.Time{}, false, nil
	}
	return maps.Clone(e.regs), e.at, true, nil
}

// Save implements Baselines.
func (b *MemoryBaselines) Save(counterID string, regs map[string]uint64, at time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]memoryBaseline{}
	}
	b.m[counterID] = memoryBaseline{regs: maps.Clone(regs), at: at}
	return nil
}
