package counter_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers/door/counter"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// The daemon's wiring: one handler for every counter_push device, mounted on
// the gateway's HTTP server, sending to the engine's inbox.
func ExampleNewHandler() {
	inbox := edge.NewInbox(edge.DefaultInboxSize)
	counters := []counter.Counter{{
		Name:      "entrance-counter", // the device's name in the configuration
		CounterID: "V4D-17020025",
		Token:     "0123456789abcdef0123456789abcdef", // the token file's content, trimmed
		// InRegister and OutRegister default to "in" and "out".
	}}
	base := &counter.MemoryBaselines{} // the daemon implements Baselines on its database
	clock := func() time.Time { return time.Date(2026, 11, 22, 10, 20, 0, 0, time.UTC) }
	h, err := counter.NewHandler(counters, base, inbox.Send, &counter.Opts{Now: clock})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(counter.Pattern, h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// What the counter does every logging period.
	for _, body := range []string{
		`{"time":"2026-11-22T10:00:00Z","registers":{"in":1234,"out":1200}}`,
		`{"time":"2026-11-22T10:15:00Z","registers":{"in":1240,"out":1203}}`,
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/counters/V4D-17020025", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer 0123456789abcdef0123456789abcdef")
		resp, err := srv.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		ack, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(resp.StatusCode, " ", string(ack))
	}
	fmt.Println(inbox.Stats().Accepted, "crossings queued")
	// Output:
	// 200 {"counter_id":"V4D-17020025","samples":1,"in":0,"out":0,"notes":["in: baseline 1234","out: baseline 1200"]}
	// 200 {"counter_id":"V4D-17020025","samples":1,"in":6,"out":3}
	// 2 crossings queued
}
