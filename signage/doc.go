// Package signage is the gateway's local HTTP surface: the signage player
// of each zone, the checkout page of each lane, the store overview and
// dashboard, and the health and metrics endpoints.
//
// # Routes
//
//	GET /                        store overview page (polls /api/overview)
//	GET /api/overview            {"store", "stats", "status", "screens"} as JSON
//	GET /dashboard               store dashboard: today against the same weekday last week
//	                             (polls /api/v1/dashboard every 15 s; ?refresh=seconds)
//	GET /api/v1/dashboard        the dashboard's figures as JSON (dashboard.go)
//	GET /signage/{zone}          full-screen signage player
//	GET /signage/{zone}/loop     the zone's content loop as JSON
//	GET /signage/{zone}/events   event stream: "offer" events (edge.SignageView)
//	GET /checkout/{lane}         checkout terminal page (lane token; ?token= logs a terminal in)
//	GET /checkout/{lane}/events  event stream: "member" events (edge.CheckoutView; lane token)
//	POST|GET|PUT /api/v1/lanes/{lane}/basket…  the POS API (pos.go, deploy/pos-openapi.yaml; lane token)
//	POST /api/v1/screens/{zone}/plays  proof of play from signage players (plays.go)
//	GET /healthz                 200 "ok" while the process serves HTTP
//	GET /readyz                  200 when Options.Ready reports nil, else 503 with the reason;
//	                             either way the body lists the devices that are not up
//	GET /metrics                 Prometheus exposition of Options.Registry
//	GET /assets/...              embedded CSS and JavaScript
//
// Pages and streams answer GET (and HEAD) only; other methods get 405. An unknown
// zone or lane gets 404 with the reason in plain text. Pages are plain HTML,
// CSS and JavaScript embedded in the binary: they load nothing from the
// internet, which the gateway does not have.
//
// # Hubs and fan-out
//
// Each configured zone and lane has a hub. Every open event stream is a
// client of one hub with its own buffered channel of frames. Server
// implements edge.Display: ShowSignage and ShowCheckout encode the view once
// and offer the frame to every client of the place without ever waiting.
// A client whose buffer is full, because its screen or network is slow, has
// that frame dropped for it alone and the drop counted; the engine goroutine
// and the other screens are never held up. A view for a zone or lane that is
// not configured is counted and ignored. Server.Stats and /metrics expose the
// counters (redcarpet_signage_*).
//
// A signage stream carries offers only as they happen. A checkout stream also
// replays the lane's last member panel to a terminal that connects within a
// few minutes of it, so a reloaded cashier page does not lose the customer
// being served.
//
// # What a public screen may show
//
// Signage screens are public. An offer event carries the greeting and the
// offer's text, discount and validity, nothing else: the frame is built from
// an explicit list of fields, so a field added to edge.SignageView does not
// reach the screens by accident. The greeting holds the member's first name
// only when the member consented (edge.Greeting). Member ids, tiers, stages
// and card data never appear on a signage stream or page. The overview page
// shows counters and device health only; whatever Options.Status returns is
// shown as is, so it must not hold personal data either. The store
// dashboard shows counts and amounts of the whole store (visitors, baskets,
// spend, offers, members' share) and device health: no member, card or
// basket appears on it. Both are open to anyone on the store LAN, read-only.
//
// Checkout pages show the recognised member to the cashier (first name,
// tier, lifecycle stage, member id), so they and the POS API need the
// lane's token or the admin token: 401 without one, 403 with another
// lane's (pos.go).
//
// # Timeouts
//
// NewHTTPServer bounds reading a request (headers, then the whole request)
// and idle keep-alive connections, and sets a write timeout for ordinary
// responses. An event stream outlives that write timeout: before every
// write, the stream handler moves the connection's write deadline a few
// seconds ahead with http.ResponseController, so a healthy stream lives as
// long as the screen stays connected while a screen that stops reading is
// cut off after a few seconds instead of pinning a goroutine. Streams send a
// "ping" event every 15 seconds, which keeps proxies from closing idle
// streams and lets the pages notice a dead connection and reconnect.
//
// http.Server.Shutdown waits for active connections, and event streams stay
// active until they end: register Server.CloseStreams with
// http.Server.RegisterOnShutdown so they end when shutdown begins. The
// browsers reconnect by themselves once a server listens again, and the
// signage player keeps playing its content loop meanwhile.
package signage
