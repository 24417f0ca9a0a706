// Package hqtest helps test code that talks to HQ over MQTT: an embedded
// mochi-mqtt broker on 127.0.0.1, a QoS 1 publisher, and valid uplink
// batches built with wire.Encode.
package hqtest

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// Broker is an embedded mochi-mqtt v2 broker listening on 127.0.0.1. It
// allows every client and keeps the sessions of clients that connect with
// CleanSession false.
type Broker struct {
	Server *mochi.Server
	Addr   string // host:port
	URL    string // tcp://host:port

	closeOnce sync.Once
}

// NewBroker starts a broker on a free port; it is closed when the test ends.
func NewBroker(tb testing.TB) *Broker {
	tb.Helper()
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		tb.Fatalf("broker hook: %v", err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := srv.AddListener(l); err != nil {
		tb.Fatalf("broker listener: %v", err)
	}
	if err := srv.Serve(); err != nil {
		tb.Fatalf("broker serve: %v", err)
	}
	b := &Broker{Server: srv, Addr: l.Address(), URL: "tcp://" + l.Address()}
	tb.Cleanup(b.Close)
	return b
}

// Close stops the broker. It may be called more than once.
func (b *Broker) Close() { b.closeOnce.Do(func() { _ = b.Server.Close() }) }

// Kick drops a client's network connection as a network fault would; the
// broker keeps its session when it connected with CleanSession false.
func (b *Broker) Kick(tb testing.TB, clientID string) {
	tb.Helper()
	cl, ok := b.Server.Clients.Get(clientID)
	if !ok {
		tb.Fatalf("kick: no client %q", clientID)
	}
	cl.Stop(fmt.Errorf("kicked by test"))
}

var publishers atomic.Uint64

// Publisher is a paho client that publishes at QoS 1 and waits for PUBACK.
type Publisher struct {
	c mqtt.Client
}

// NewPublisher connects to the broker at url (tcp://host:port); it
// disconnects when the test ends.
func NewPublisher(tb testing.TB, url string) *Publisher {
	tb.Helper()
	id := fmt.Sprintf("hqtest-pub-%d-%d", time.Now().UnixNano(), publishers.Add(1))
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	if t := c.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		tb.Fatalf("publisher connect %s: %v", url, t.Error())
	}
	tb.Cleanup(func() { c.Disconnect(100) })
	return &Publisher{c: c}
}

// Publish sends payload to topic at QoS 1 and waits for the broker's PUBACK.
func (p *Publisher) Publish(tb testing.TB, topic string, payload []byte) {
	tb.Helper()
	t := p.c.Publish(topic, 1, false, payload)
	if !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		tb.Fatalf("publish %s: %v", topic, t.Error())
	}
}

// Batch encodes events of tenant/store as an uplink payload.
func Batch(tb testing.TB, tenant, store string, evs ...edge.Event) []byte {
	tb.Helper()
	ces, err := wire.Encode(tenant, store, evs)
	if err != nil {
		tb.Fatalf("encode: %v", err)
	}
	b, err := wire.MarshalBatch(ces)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return b
}

// T0 is the time of the events this package makes.
var T0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Footfall is a valid footfall interval event with the given id.
func Footfall(id string) edge.Event {
	return edge.Event{ID: id, Kind: edge.KindFootfall, Source: "engine", Time: T0,
		Footfall: &edge.Footfall{Door: "main", Start: T0.Add(-15 * time.Minute), End: T0, In: 4, Out: 3, Occupancy: 9}}
}

// Recognition is a valid member recognition event with the given id.
func Recognition(id string) edge.Event {
	return edge.Event{ID: id, Kind: edge.KindRecognition, Source: "engine", Time: T0,
		Recognition: &edge.Recognition{MemberID: "m-1", Via: edge.ViaCard, Zone: "entrance", NewVisit: true}}
}

// Footfalls returns footfall events with ids "<epoch>-<from>" … "<epoch>-<to>".
func Footfalls(epoch string, from, to int) []edge.Event {
	var evs []edge.Event
	for i := from; i <= to; i++ {
		evs = append(evs, Footfall(fmt.Sprintf("%s-%d", epoch, i)))
	}
	return evs
}
