package signage

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// TestSignageResponsesCarryNoPersonalData: members with every kind of data
// that must not reach a public screen tap their cards at zone readers; the
// real engine picks offers; every response of the signage surface (pages,
// loops, event streams, proof-of-play answers, the overview and the store
// dashboard, which are open on the LAN) is scanned for member ids,
// surnames, email addresses, phone numbers and the first names of members
// who did not consent.
func TestSignageResponsesCarryNoPersonalData(t *testing.T) {
	st, ob := openTestDB(t)
	now := time.Now()
	members := []edge.MemberRecord{
		// Consented, but a full name in the first-name field.
		{Member: edge.Member{ID: "M-100001", FirstName: "Zelda Moreau", GreetByName: true, Tier: "platinum", Segment: "seg-families", Stage: edge.StageLapsing,
			Affinity: map[string]float64{"dairy": 1}}, Cards: [][]byte{{1, 1, 1, 1}}},
		// Not consented.
		{Member: edge.Member{ID: "M-100002", FirstName: "Bartholomew", Affinity: map[string]float64{"dairy": 1}}, Cards: [][]byte{{2, 2, 2, 2}}},
		// Consented, with an email address and a phone number typed as the name.
		{Member: edge.Member{ID: "M-100003", FirstName: "ada.l@example.org", GreetByName: true, Affinity: map[string]float64{"dairy": 1}}, Cards: [][]byte{{3, 3, 3, 3}}},
		{Member: edge.Member{ID: "M-100004", FirstName: "+33 6 12 34 56 78", GreetByName: true, Affinity: map[string]float64{"dairy": 1}}, Cards: [][]byte{{4, 4, 4, 4}}},
	}
	if err := st.PutMembers(members); err != nil {
		t.Fatal(err)
	}
	if err := st.PutOffers([]edge.Offer{{ID: "dairy-20", Title: "20% off dairy", Channels: []edge.Channel{edge.ChannelSignage},
		Categories: []string{"dairy"}, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(time.Hour), DiscountPct: 20}}); err != nil {
		t.Fatal(err)
	}
	// The dashboard reads the engine and the traffic history, which holds
	// a day of the store with member baskets.
	var e *edge.Engine
	o := testOptions()
	o.History = ob
	o.Stats = func() edge.Stats { return e.Stats() }
	lastWeek := now.AddDate(0, 0, -7).Truncate(time.Hour)
	q := quarter(lastWeek, 12, 4, 8800)
	q.MemberVisits, q.MemberBaskets, q.MemberSpend, q.OffersShown, q.OffersRedeemed = 3, 2, 4200, 5, 1
	keep(t, ob, []edge.Traffic{q})
	s, ts := newTestServer(t, o, nil)
	in := edge.NewInbox(16)
	e = edge.NewEngine(st, ob, s, in, edge.Options{Devices: map[string]edge.Placement{
		"fresh-reader": {Kind: "sim_rfid", Zone: "fresh"}, "bakery-reader": {Kind: "sim_rfid", Zone: "bakery"},
	}})
	s.SetPlays(e)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()

	var all strings.Builder
	streams := map[string]*bufio.Reader{}
	for _, z := range []string{"fresh", "bakery"} {
		resp, err := http.Get(ts.URL + "/signage/" + z + "/events") // no token: signage is public
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		streams[z] = bufio.NewReader(resp.Body)
	}
	for i, m := range members {
		zone := []string{"fresh", "bakery"}[i%2]
		if err := in.Send(ctx, edge.Event{Kind: edge.KindCardRead, Source: zone + "-reader", Time: time.Now(), Card: &edge.CardRead{UID: m.Cards[0]}}); err != nil {
			t.Fatal(err)
		}
	}
	frames := 0
	for frames < len(members) {
		z := []string{"fresh", "bakery"}[frames%2]
		for {
			line, err := streams[z].ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			all.WriteString(line)
			if strings.HasPrefix(line, "data: ") && strings.Contains(line, "greeting") {
				frames++
				break
			}
		}
	}
	for _, path := range []string{"/signage/fresh", "/signage/bakery", "/signage/fresh/loop", "/signage/bakery/loop", "/", "/api/overview",
		"/dashboard", "/api/v1/dashboard"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		all.WriteString(string(b))
	}
	req, _ := http.NewRequest("POST", ts.URL+"/api/v1/screens/fresh/plays", strings.NewReader(`{"screen": "scr-0001", "plays": [{"offer_id": "dairy-20", "at": "2026-01-01T00:00:00Z", "started": "2026-01-01T00:00:00Z", "duration_ms": 1}]}`))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		all.WriteString(string(b))
	}

	out := all.String()
	if !strings.Contains(out, "Hello Zelda!") {
		t.Errorf("the consented first name is missing: the test saw no greeting")
	}
	if !strings.Contains(out, `"member_baskets":2`) {
		t.Errorf("the dashboard did not show last week's member baskets: the test saw no history")
	}
	for _, secret := range []string{"M-1000", "Moreau", "Bartholomew", "ada.l", "example.org", "platinum", "seg-families", "lapsing"} {
		if strings.Contains(out, secret) {
			t.Errorf("a signage response holds %q", secret)
		}
	}
	for name, re := range map[string]*regexp.Regexp{
		"email": regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`),
		// International (+33 6 12 34 56 78) or national (06 12 34 56 78)
		// numbers; dates and times do not match.
		"phone": regexp.MustCompile(`\+\d[\d .()-]{7,}\d|\b\d{2}([ .]\d{2}){4}\b`),
	} {
		if m := re.FindString(out); m != "" {
			t.Errorf("a signage response holds what looks like a %s: %q", name, m)
		}
	}
}
