package hq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// Gap repair. A broker acknowledges a store's publish before delivering it
// and may still lose it (a restart that forgets the shared subscription, a
// full queue), so HQ checks what it holds. Every GapEvery the Responder
// compares, for each store of its tenants, the sequence numbers the sink
// holds with the store's own watermark (its retained state: epoch, seq and
// backlog). A range still missing at two checks in a row — so not merely
// in transit — is asked for on the store's resend topic; the store queues
// the events it still keeps (for 72 hours) again under the same ids, and
// deduplication drops what HQ had after all. Events produced after the
// store's last state, or while it still has a backlog, are not asked for:
// they are on their way.

// GapSource is what the gap watcher reads of the sink; BoltSink and the
// PostgreSQL sink implement it.
type GapSource interface {
	Stats() (SinkStats, error)
	Coverage(tenant, store string) (map[string]Coverage, error)
	Missing(tenant, store, epoch string, limit int) ([]uint64, error)
}

// gapLimits bound one resend request.
const (
	gapMissing = 100_000 // missing sequence numbers read per epoch
	gapRanges  = 1000    // ranges per request
)

// gaps is the Responder's gap watcher state.
type gaps struct {
	mu     sync.Mutex
	states map[string]wire.State // tenant/store → retained state
	seen   map[string]string     // tenant/store/epoch → missing ranges at the last check
	asked  map[string]time.Time  // tenant/store/epoch → last request
}

func newGaps() *gaps {
	return &gaps{states: map[string]wire.State{}, seen: map[string]string{}, asked: map[string]time.Time{}}
}

// onState records a store's retained state.
func (r *Responder) onState(_ mqtt.Client, m mqtt.Message) {
	p := strings.Split(m.Topic(), "/")
	if len(p) != 5 || p[4] != "state" || !r.tenants[p[2]] {
		return
	}
	var st wire.State
	if len(m.Payload()) == 0 || json.Unmarshal(m.Payload(), &st) != nil {
		return
	}
	r.gaps.mu.Lock()
	r.gaps.states[p[2]+"/"+p[3]] = st
	r.gaps.mu.Unlock()
}

// checkGaps asks stores for the ranges missing at this check and the last.
func (r *Responder) checkGaps(ctx context.Context, c mqtt.Client, now time.Time) error {
	st, err := r.o.Gaps.Stats()
	if err != nil {
		r.errs.Add(1)
		r.log.Warn("gap check: sink stats", "err", err)
		return nil
	}
	stores := map[string][2]string{}
	for _, s := range st.Stores {
		if r.tenants[s.Tenant] {
			stores[s.Tenant+"/"+s.Store] = [2]string{s.Tenant, s.Store}
		}
	}
	g := r.gaps
	g.mu.Lock()
	for k := range g.states {
		t, s, _ := strings.Cut(k, "/")
		stores[k] = [2]string{t, s}
	}
	g.mu.Unlock()
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range stores {
			if !yield(k) {
				return
			}
		}
	}) {
		tenant, store := stores[k][0], stores[k][1]
		reqs, err := r.missing(tenant, store)
		if err != nil {
			r.errs.Add(1)
			r.log.Warn("gap check", "tenant", tenant, "store", store, "err", err)
			continue
		}
		for epoch, ranges := range reqs {
			key := k + "/" + epoch
			sig := fmt.Sprint(ranges)
			g.mu.Lock()
			prev, last := g.seen[key], g.asked[key]
			g.seen[key] = sig
			g.mu.Unlock()
			if prev != sig || now.Sub(last) < 5*r.o.GapEvery {
				continue // first seen (maybe in transit), or asked recently
			}
			if err := r.askResend(ctx, c, tenant, store, epoch, ranges); err != nil {
				return err
			}
			g.mu.Lock()
			g.asked[key] = now
			g.mu.Unlock()
		}
	}
	return nil
}

// missing returns the ranges missing per epoch of one store: holes in what
// the sink holds, and, when the store reports an empty backlog, what it
// produced beyond the highest sequence number held.
func (r *Responder) missing(tenant, store string) (map[string][]wire.SeqRange, error) {
	cov, err := r.o.Gaps.Coverage(tenant, store)
	if err != nil {
		return nil, err
	}
	r.gaps.mu.Lock()
	state, hasState := r.gaps.states[tenant+"/"+store]
	r.gaps.mu.Unlock()
	out := map[string][]wire.SeqRange{}
	for epoch, c := range cov {
		// A store keeps only its current file's events: ask nothing of the
		// epochs of files it replaced.
		if hasState && state.Epoch != "" && epoch != state.Epoch {
			continue
		}
		if c.Gaps > 0 {
			seqs, err := r.o.Gaps.Missing(tenant, store, epoch, gapMissing)
			if err != nil {
				return nil, err
			}
			out[epoch] = toRanges(seqs)
		}
	}
	if hasState && state.Epoch != "" && state.Backlog == 0 && state.Seq > 0 {
		if held := cov[state.Epoch].MaxSeq; state.Seq > held {
			out[state.Epoch] = append(out[state.Epoch], wire.SeqRange{From: held + 1, To: state.Seq})
		}
	}
	for e, rs := range out {
		if len(rs) > gapRanges {
			out[e] = rs[:gapRanges]
		}
	}
	return out, nil
}

// toRanges turns ascending sequence numbers into ranges.
func toRanges(seqs []uint64) []wire.SeqRange {
	var out []wire.SeqRange
	for _, s := range seqs {
		if n := len(out); n > 0 && out[n-1].To+1 == s {
			out[n-1].To = s
			continue
		}
		out = append(out, wire.SeqRange{From: s, To: s})
	}
	return out
}

func (r *Responder) askResend(ctx context.Context, c mqtt.Client, tenant, store, epoch string, ranges []wire.SeqRange) error {
	var id [8]byte
	rand.Read(id[:])
	b, err := json.Marshal(wire.ResendRequest{RequestID: hex.EncodeToString(id[:]), Epoch: epoch, Ranges: ranges})
	if err != nil {
		return err
	}
	if err := r.wait(ctx, c.Publish(wire.ResendTopic(tenant, store), 1, false, b)); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("publish resend request to %s/%s: %w", tenant, store, err)
	}
	r.resends.Add(1)
	r.log.Info("asked a store for missing events", "tenant", tenant, "store", store, "epoch", epoch, "ranges", len(ranges))
	return nil
}
