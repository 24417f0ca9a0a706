package signage

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/outbox"
)

// TestProofOfPlay: a player's report of an offer the gateway sent to its
// zone becomes one offer.played event per frame and screen; anything else
// is refused with a reason.
func TestProofOfPlay(t *testing.T) {
	p := newPOS(t)
	at := time.Now().Add(-20 * time.Second).Round(0)
	p.server.ShowSignage("fresh", edge.SignageView{Greeting: "Welcome back!", Offer: edge.OfferView{ID: "dairy-20", Title: "20% off dairy"}, ShowForMS: 10000, At: at})
	// The frame's "at" exactly as the player received it.
	atJSON, _ := json.Marshal(at)
	play := func(offer string, atRaw []byte, ms int) string {
		return fmt.Sprintf(`{"offer_id": %q, "at": %s, "started": %q, "duration_ms": %d}`, offer, atRaw, at.Add(time.Second).Format(time.RFC3339Nano), ms)
	}
	report := func(screen string, plays ...string) (int, map[string]any) {
		body := fmt.Sprintf(`{"screen": %q, "plays": [`, screen)
		for i, pl := range plays {
			if i > 0 {
				body += ","
			}
			body += pl
		}
		return p.call(t, "POST", "/api/v1/screens/fresh/plays", "", body+"]}")
	}
	status, v := report("scr-0001", play("dairy-20", atJSON, 10000))
	if status != 200 || v["recorded"] != 1.0 {
		t.Fatalf("first report: %d %v", status, v)
	}
	status, v = report("scr-0001", play("dairy-20", atJSON, 10000)) // the player retries
	if status != 200 || v["recorded"] != 0.0 || v["duplicates"] != 1.0 {
		t.Errorf("retry: %d %v", status, v)
	}
	status, v = report("scr-0002", play("dairy-20", atJSON, 9000)) // another screen in the zone
	if status != 200 || v["recorded"] != 1.0 {
		t.Errorf("second screen: %d %v", status, v)
	}
	other, _ := json.Marshal(at.Add(time.Nanosecond))
	status, v = report("scr-0001", play("wine-50", atJSON, 10000), play("dairy-20", other, 10000), play("dairy-20", atJSON, 0))
	if rej, _ := v["rejected"].([]any); status != 200 || v["recorded"] != 0.0 || len(rej) != 3 {
		t.Errorf("made-up plays: %d %v", status, v)
	}
	// The bakery screens never got that frame.
	if status, v := p.call(t, "POST", "/api/v1/screens/bakery/plays", "", `{"screen": "scr-0001", "plays": [`+play("dairy-20", atJSON, 10000)+`]}`); status != 200 || v["recorded"] != 0.0 {
		t.Errorf("another zone: %d %v", status, v)
	}
	for _, tc := range []struct{ body, reason string }{
		{`{"screen": "x", "plays": [` + play("dairy-20", atJSON, 1) + `]}`, "screen"},
		{`{"screen": "scr-0001", "plays": []}`, "plays"},
		{`{"screen": "scr-0001", "plays": [{"offer_id": "a", "member_id": "M1"}]}`, "member_id"},
	} {
		if status, v := p.call(t, "POST", "/api/v1/screens/fresh/plays", "", tc.body); status != http.StatusBadRequest {
			t.Errorf("%s: %d %v", tc.body, status, v)
		}
	}
	if status, _ := p.call(t, "POST", "/api/v1/screens/nowhere/plays", "", `{}`); status != http.StatusNotFound {
		t.Errorf("unknown zone: %d", status)
	}
	if n := p.count(t, edge.KindPlayed); n != 2 {
		t.Errorf("%d offer.played events in the outbox, want 2", n)
	}
	recs, _, _ := p.outbox.Read(outbox.Cursor{}, 100, 1<<20)
	for _, r := range recs {
		if pl := r.Event.Played; pl != nil && (pl.Zone != "fresh" || pl.OfferID != "dairy-20" || !pl.Started.Equal(at.Add(time.Second)) || pl.DurationMS < 9000) {
			t.Errorf("play %+v", pl)
		}
	}
}
