package edge_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redcarpet-retail/redcarpet/drivers/sim"
	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/store"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
)

// BenchmarkRecognise measures what a card tap costs the engine: resolving
// the card against 100 000 members in bbolt and selecting the checkout
// offers among the demo's offers. It reports the p99 of single operations.
func BenchmarkRecognise(b *testing.B) {
	now := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	db, err := bolt.Open(filepath.Join(b.TempDir(), "redcarpet.db"), 0o600, outbox.DBOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	st, err := store.Open(db, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	members := sim.Members(100_000, 1, now)
	for i := 0; i < len(members); i += 5000 {
		if err := st.PutMembers(members[i:min(i+5000, len(members))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.PutOffers(sim.Offers(now, time.UTC)); err != nil {
		b.Fatal(err)
	}
	offers, err := st.Offers()
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	shown := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		uid := members[(i*7919)%len(members)].Cards[0]
		t0 := time.Now()
		m, err := st.MemberByCard(uid)
		if err != nil {
			b.Fatal(err)
		}
		shown += len(edge.Select(offers, &m, edge.ChannelCheckout, now, 3, nil))
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	if shown == 0 {
		b.Fatal("no offer selected: the benchmark measures nothing useful")
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
}
