package downlink

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// benchMember is a member of about the size HQ sends: profile, affinity,
// purchase cycles, two cards and two barcodes.
func benchMember(i int) *wire.MemberChange {
	m := memberChange(i, 1)
	m.Member.FirstName = "Camille"
	m.Member.Stage = edge.StageActive
	m.Member.GreetByName = i%2 == 0
	m.Member.Affinity = map[string]float64{"dairy": 0.4, "bakery": 0.25, "wine": 0.1}
	last := time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC)
	m.Member.Cycles = map[string]edge.Cycle{"dairy": {MeanDays: 6.5, Last: last, Count: 12}, "bakery": {MeanDays: 3, Last: last}}
	m.Cards = append(m.Cards, fmt.Sprintf("08%06X0102", i))
	m.List = fmt.Sprintf("L-%07d", i)
	return m
}

// latencies is what a recognition probe measured.
type latencies struct {
	n        int
	p50, p99 time.Duration
	max      time.Duration
}

// probeEvery paces the recognition probe: 500 recognitions a second, far
// above a store's real rate, without turning the probe into a writer that
// starves the downlink of bbolt's writer lock.
const probeEvery = 2 * time.Millisecond

// probe runs the engine's path for one recognition in a loop (resolve a
// card in the store, append one event to the outbox) every probeEvery
// until stop is closed, and measures each round.
func probe(tb testing.TB, g *gateway, stop <-chan struct{}) latencies {
	var d []time.Duration
	uid := card(0)
	ev := []edge.Event{recognitionOf("M-0000000")}
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-stop:
			slices.Sort(d)
			if len(d) == 0 {
				return latencies{}
			}
			return latencies{n: len(d), p50: d[len(d)/2], p99: d[len(d)*99/100], max: d[len(d)-1]}
		default:
		}
		t0 := time.Now()
		_, _ = g.st.MemberByCard(uid) // a miss until the first page is in: still a full lookup
		ev[0].ID = ""
		if err := g.ob.Append(ev); err != nil {
			tb.Error(err)
			return latencies{}
		}
		d = append(d, time.Since(t0))
	}
}

// snapshotRun applies a snapshot of n generated members in pages of 500
// while a probe measures recognition, and reports the snapshot's time and
// the probe's latencies before (baseline, on the empty database), during,
// and after the snapshot (the probe alone on the full database: what a
// commit costs at that size, without the downlink).
func snapshotRun(tb testing.TB, n int) (total time.Duration, base, during, after latencies) {
	ctx := context.Background()
	g := newGateway(tb)
	d := g.downlink(tb, Options{})
	// Baseline: the probe alone for a short while.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { base = probe(tb, g, stop) })
	baseline := time.NewTimer(time.Second)
	<-baseline.C
	close(stop)
	wg.Wait()

	const page = 500
	stop = make(chan struct{})
	wg.Go(func() { during = probe(tb, g, stop) })
	start := time.Now()
	cs := make([]wire.Change, 0, page)
	for from := 0; from < n; from += page {
		cs = cs[:0]
		for i := from; i < min(from+page, n); i++ {
			cs = append(cs, wire.Change{Kind: wire.ChangeMemberUpsert, Member: benchMember(i)})
		}
		next := fmt.Sprintf("m:M-%07d", min(from+page, n)-1)
		if from+page >= n {
			next = ""
		}
		p := &wire.ChangePage{Head: 1, Snapshot: &wire.SnapshotPage{ID: "1.bench", Version: 1, Next: next}, Changes: cs}
		if err := d.applySnapshotPage(ctx, p); err != nil {
			tb.Fatal(err)
		}
	}
	total = time.Since(start)
	close(stop)
	wg.Wait()
	stop = make(chan struct{})
	wg.Go(func() { after = probe(tb, g, stop) })
	baseline.Reset(time.Second)
	<-baseline.C
	close(stop)
	wg.Wait()
	if d.Version() != 1 || d.Stats().Snapshot {
		tb.Fatalf("snapshot not complete: version %d, %+v", d.Version(), d.Stats())
	}
	if c, _ := g.st.Count(); c.Members != n || c.Cards != 2*n || c.Barcodes != 2*n {
		tb.Fatalf("store counts %+v after a snapshot of %d members", c, n)
	}
	if m, err := g.st.MemberByCard(card(n - 1)); err != nil || m.ID != fmt.Sprintf("M-%07d", n-1) {
		tb.Fatalf("last member: %v, %v", m.ID, err)
	}
	tb.Logf("%d transactions, %d changes per transaction at the end", d.Stats().Transactions, d.Stats().TxChanges)
	return total, base, during, after
}

// TestSnapshotWhileRecognising is the CI-sized variant of
// BenchmarkSnapshot1M: it checks the snapshot completes correctly under a
// recognition load and logs the latencies (it asserts no wall-clock limit).
func TestSnapshotWhileRecognising(t *testing.T) {
	total, base, during, after := snapshotRun(t, 20_000)
	t.Logf("20000 members in %v (%.0f members/s); recognition p50/p99/max: before %v/%v/%v, during %v/%v/%v (n=%d), after %v/%v/%v",
		total.Round(time.Millisecond), 20_000/total.Seconds(), base.p50, base.p99, base.max,
		during.p50, during.p99, during.max, during.n, after.p50, after.p99, after.max)
}

// BenchmarkSnapshot1M applies a 1 000 000-member snapshot while another
// goroutine measures a recognition (store.MemberByCard plus a one-event
// outbox append) in a loop. Run it with
//
//	go test -run NONE -bench Snapshot1M -benchtime 1x ./sync/downlink/
func BenchmarkSnapshot1M(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		total, base, during, after := snapshotRun(b, n)
		b.ReportMetric(total.Seconds(), "snapshot-s")
		b.ReportMetric(n/total.Seconds(), "members/s")
		b.ReportMetric(float64(during.max.Microseconds())/1000, "recog-max-ms")
		b.ReportMetric(float64(during.p99.Microseconds())/1000, "recog-p99-ms")
		b.ReportMetric(float64(during.p50.Microseconds())/1000, "recog-p50-ms")
		b.ReportMetric(float64(base.p99.Microseconds())/1000, "base-p99-ms")
		b.ReportMetric(float64(base.max.Microseconds())/1000, "base-max-ms")
		b.ReportMetric(float64(after.p99.Microseconds())/1000, "after-p99-ms")
		b.ReportMetric(float64(after.max.Microseconds())/1000, "after-max-ms")
	}
}
