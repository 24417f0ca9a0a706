package hq

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/redcarpet-retail/redcarpet/sync/hq/hqtest"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// TestResponderAsksForMissingEvents: HQ holds seq 1, 2 and 4 of a store
// whose retained state says it produced 6 and has nothing left to send.
// The gap watcher asks for 3 and 5..6, once the gaps persisted across two
// checks.
func TestResponderAsksForMissingEvents(t *testing.T) {
	b := hqtest.NewBroker(t)
	sink := openSink(t)
	if _, _, err := sink.Store(context.Background(), "acme", "s1", footfalls(t, "acme", "s1", "ep1", 1, 2, 4)); err != nil {
		t.Fatal(err)
	}
	// The store's side: its state, and what it receives on its resend topic.
	store := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL).SetClientID(fmt.Sprint("s1-", time.Now().UnixNano())))
	if tok := store.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer store.Disconnect(50)
	got := make(chan wire.ResendRequest, 10)
	store.Subscribe(wire.ResendTopic("acme", "s1"), 1, func(_ mqtt.Client, m mqtt.Message) {
		var r wire.ResendRequest
		if err := json.Unmarshal(m.Payload(), &r); err != nil {
			t.Errorf("resend request: %v", err)
		}
		got <- r
	}).WaitTimeout(10 * time.Second)
	state, _ := json.Marshal(wire.State{Online: true, Epoch: "ep1", Seq: 6, Backlog: 0, At: time.Now()})
	store.Publish(wire.StateTopic("acme", "s1"), 1, true, state).WaitTimeout(10 * time.Second)
	defer func() { store.Publish(wire.StateTopic("acme", "s1"), 1, true, []byte{}).WaitTimeout(time.Second) }()

	l := openChangeLog(t, nil)
	started := time.Now()
	r := runResponder(t, ResponderOptions{Broker: b.URL, Tenants: []string{"acme"}, Log: l, Gaps: sink, GapEvery: 100 * time.Millisecond})
	select {
	case req := <-got:
		want := []wire.SeqRange{{From: 3, To: 3}, {From: 5, To: 6}}
		if req.Epoch != "ep1" || fmt.Sprint(req.Ranges) != fmt.Sprint(want) || req.RequestID == "" {
			t.Errorf("resend request %+v, want epoch ep1 ranges %v", req, want)
		}
		if time.Since(started) < 150*time.Millisecond {
			t.Errorf("asked after %s: a gap seen once may still be in transit", time.Since(started))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no resend request")
	}
	// Asked recently: not asked again at the next checks.
	select {
	case req := <-got:
		t.Errorf("asked again at once: %+v", req)
	case <-time.After(300 * time.Millisecond):
	}
	if r.Stats().Resends != 1 {
		t.Errorf("resends counted %d", r.Stats().Resends)
	}
	// Once everything arrived, nothing is asked.
	if _, _, err := sink.Store(context.Background(), "acme", "s1", footfalls(t, "acme", "s1", "ep1", 3, 5, 6)); err != nil {
		t.Fatal(err)
	}
	select {
	case req := <-got:
		t.Errorf("asked with nothing missing: %+v", req)
	case <-time.After(800 * time.Millisecond):
	}
}

func TestToRanges(t *testing.T) {
	got := toRanges([]uint64{3, 5, 6, 7, 9})
	if fmt.Sprint(got) != "[{3 3} {5 7} {9 9}]" {
		t.Errorf("toRanges = %v", got)
	}
	if toRanges(nil) != nil {
		t.Error("toRanges(nil) not nil")
	}
}
