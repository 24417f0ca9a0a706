package uplink_test

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/redcarpet-retail/redcarpet/sync/broker"
)

// TestConnectHooks: OnConnect runs on every connection with a connected
// client, before the outbox drains; its error ends the session (and the
// uplink reconnects); OnDisconnect follows every OnConnect.
func TestConnectHooks(t *testing.T) {
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h := newHQ()
	h.subscribe(t, b)
	ob, done := openOutbox(t, filepath.Join(t.TempDir(), "db"))
	defer done()
	fill(t, ob, 30)

	var (
		mu                   sync.Mutex
		connects, disconnect int
		drainedBefore        []int
	)
	o := options(b.URL())
	o.OnConnect = func(c paho.Client) error {
		mu.Lock()
		defer mu.Unlock()
		connects++
		if !c.IsConnectionOpen() {
			t.Error("OnConnect with a client that is not connected")
		}
		drainedBefore = append(drainedBefore, h.unique())
		if connects == 1 {
			return errors.New("refused by the hook")
		}
		return nil
	}
	o.OnDisconnect = func() {
		mu.Lock()
		defer mu.Unlock()
		disconnect++
	}
	u, stop := run(t, ob, o)
	eventually(t, 10*time.Second, "the outbox drained on the second connection", func() bool { return h.unique() == 30 })
	stop()
	mu.Lock()
	defer mu.Unlock()
	if connects != 2 || disconnect != 2 || u.Stats().Connects != 2 {
		t.Errorf("OnConnect %d, OnDisconnect %d, connections %d; want 2 each", connects, disconnect, u.Stats().Connects)
	}
	if drainedBefore[0] != 0 || drainedBefore[1] != 0 {
		t.Errorf("events delivered before OnConnect returned: %v", drainedBefore)
	}
}
