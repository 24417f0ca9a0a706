package signage

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/redcarpet-retail/redcarpet/configs"
	"github.com/redcarpet-retail/redcarpet/edge"
)

const (
	// heartbeatEvery is how often an idle stream sends a ping event.
	heartbeatEvery = 15 * time.Second
	// streamWriteTimeout bounds each write of an event stream. A screen that
	// does not take a frame within it is disconnected.
	streamWriteTimeout = 10 * time.Second
	// laneReplay is how long a checkout terminal that connects late still
	// gets the lane's last member panel.
	laneReplay = 3 * time.Minute
	// defaultSlide is how long a slide without ShowFor is shown.
	defaultSlide = 8 * time.Second
)

// Options configures a Server.
type Options struct {
	// StoreName is shown on every page.
	StoreName string
	// Zones are the signage zones; each gets /signage/{id}.
	Zones []configs.Place
	// Lanes are the checkout lanes; each gets /checkout/{id}.
	Lanes []configs.Place
	// Slides is the default content loop of the signage screens, each
	// slide shown for its ShowFor (8s when zero), in its daypart and zones.
	Slides []configs.Slide
	// TimeZone is the store's IANA time zone, for dayparting.
	TimeZone string
	// Location is the store's time zone, in which the dashboard counts
	// days and labels hours. Nil: TimeZone, or UTC.
	Location *time.Location
	// History is the traffic history kept on the gateway (outbox.Outbox),
	// which the dashboard compares today with. Nil: today only, from
	// Stats.
	History History

	// Stats returns the engine's latest snapshot for the overview page. Nil
	// shows an empty snapshot.
	Stats func() edge.Stats
	// Status returns extra figures for the overview page (outbox backlog,
	// uplink state, …), shown as key/value pairs. It must hold no personal
	// data: the overview page is not protected. May be nil.
	Status func() map[string]any
	// Ready reports whether the gateway is ready to serve, for /readyz: nil
	// means ready. Nil Ready means always ready.
	Ready func() error

	// Checkout serves the POS API (/api/v1/lanes/{lane}/basket…); nil
	// answers it with 503.
	Checkout Checkout
	// LaneTokens are the checkout terminals' tokens by lane id: the POS API,
	// the checkout page and its stream need the lane's token or AdminToken.
	// A lane without a token accepts only AdminToken.
	LaneTokens map[string]string
	AdminToken string
	// Plays records the players' proof of play; nil answers it with 503.
	Plays PlayRecorder

	// Registry is served at /metrics; the server registers its own stream
	// metrics in it. Nil serves a private registry holding only those.
	Registry *prometheus.Registry
	// Logger receives the server's logs. Nil discards them.
	Logger *slog.Logger
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
}

// Server serves the gateway's pages and event streams. It implements
// edge.Display. Its methods are safe for concurrent use.
type Server struct {
	o        Options
	log      *slog.Logger
	now      func() time.Time
	loc      *time.Location // the store's time zone
	registry *prometheus.Registry

	zones map[string]*hub
	lanes map[string]*hub

	unknownZone   atomic.Uint64
	unknownLane   atomic.Uint64
	authFailures  atomic.Uint64 // requests refused for their token
	badRequests   atomic.Uint64 // POS bodies refused
	sent          sentFrames    // offer frames sent, for proof of play
	playsRecorded atomic.Uint64

	heartbeat    time.Duration // heartbeatEvery; shorter in tests
	writeTimeout time.Duration // streamWriteTimeout; shorter in tests
	closing      chan struct{}
	closeOnce    sync.Once

	handler http.Handler
}

var _ edge.Display = (*Server)(nil)

// New returns a Server for o.
func New(o Options) *Server {
	s := &Server{
		o:            o,
		log:          o.Logger,
		now:          o.Now,
		loc:          storeLocation(o),
		registry:     o.Registry,
		zones:        map[string]*hub{},
		lanes:        map[string]*hub{},
		heartbeat:    heartbeatEvery,
		writeTimeout: streamWriteTimeout,
		closing:      make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "signage")
	if s.now == nil {
		s.now = time.Now
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
	}
	for _, z := range o.Zones {
		s.zones[z.ID] = newHub(0)
	}
	for _, l := range o.Lanes {
		s.lanes[l.ID] = newHub(laneReplay)
	}
	if err := s.registry.Register(collector{s}); err != nil {
		s.log.Error("register stream metrics", "err", err)
	}
	s.handler = s.routes()
	return s
}

// SetCheckout sets the engine behind the POS API, for a Server created
// before the engine (the engine shows its panels on the Server). Call it
// before serving.
func (s *Server) SetCheckout(c Checkout) { s.o.Checkout = c }

// Handler returns the server's routes.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.serveOverview)
	mux.HandleFunc("GET /api/overview", s.serveOverviewJSON)
	mux.HandleFunc("GET /dashboard", s.serveDashboard)
	mux.HandleFunc("GET /api/v1/dashboard", s.serveDashboardJSON)
	mux.HandleFunc("GET /signage/{zone}", s.serveSignage)
	mux.HandleFunc("GET /signage/{zone}/loop", s.serveLoop)
	mux.HandleFunc("GET /signage/{zone}/events", s.serveSignageEvents)
	mux.HandleFunc("GET /checkout/{lane}", s.serveCheckout)
	mux.HandleFunc("GET /checkout/{lane}/events", s.serveCheckoutEvents)
	s.posRoutes(mux)
	mux.HandleFunc("POST /api/v1/screens/{zone}/plays", s.servePlays)
	mux.HandleFunc("GET /healthz", serveHealth)
	mux.HandleFunc("GET /readyz", s.serveReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	mux.Handle("GET /assets/", assetHandler())
	return mux
}

// publicOffer is the signage event. It names by hand every field a public
// screen may show, with the JSON names of edge.SignageView: a field added to
// the view does not reach the screens unless it is added here too.
type publicOffer struct {
	Greeting string `json:"greeting"`
	Offer    struct {
		ID          string    `json:"id"`
		Title       string    `json:"title"`
		Body        string    `json:"body,omitempty"`
		DiscountPct float64   `json:"discount_pct"`
		ValidTo     time.Time `json:"valid_to"`
	} `json:"offer"`
	ShowForMS int64     `json:"show_for_ms"`
	At        time.Time `json:"at"`
}

// ShowSignage sends a personal offer to the screens of zone. It never
// blocks; see the package documentation.
func (s *Server) ShowSignage(zone string, v edge.SignageView) {
	h, ok := s.zones[zone]
	if !ok {
		s.unknownZone.Add(1)
		s.log.Debug("offer for unknown zone", "zone", zone)
		return
	}
	var p publicOffer
	p.Greeting = v.Greeting
	p.Offer.ID, p.Offer.Title, p.Offer.Body = v.Offer.ID, v.Offer.Title, v.Offer.Body
	p.Offer.DiscountPct, p.Offer.ValidTo = v.Offer.DiscountPct, v.Offer.ValidTo
	p.ShowForMS, p.At = v.ShowForMS, v.At
	s.sent.add(frameKey{zone, v.Offer.ID, v.At.UnixNano()}, s.now())
	s.publish(h, "offer", p)
}

// ShowCheckout sends a member panel to the terminals of lane. It never
// blocks.
func (s *Server) ShowCheckout(lane string, v edge.CheckoutView) {
	h, ok := s.lanes[lane]
	if !ok {
		s.unknownLane.Add(1)
		s.log.Debug("member panel for unknown lane", "lane", lane)
		return
	}
	if v.Offers == nil {
		v.Offers = []edge.BasketOffer{}
	}
	s.publish(h, "member", v)
}

func (s *Server) publish(h *hub, event string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode event", "event", event, "err", err)
		return
	}
	frame := make([]byte, 0, len(event)+len(data)+16)
	frame = append(frame, "event: "...)
	frame = append(frame, event...)
	frame = append(frame, "\ndata: "...)
	frame = append(frame, data...)
	frame = append(frame, "\n\n"...)
	h.publish(frame, s.now())
}

// Stats counts the server's event streams.
type Stats struct {
	Zones map[string]HubStats `json:"zones"`
	Lanes map[string]HubStats `json:"lanes"`
	// UnknownZone and UnknownLane count views for places not configured.
	UnknownZone uint64 `json:"unknown_zone"`
	UnknownLane uint64 `json:"unknown_lane"`
}

// Stats returns the stream counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Zones:       make(map[string]HubStats, len(s.zones)),
		Lanes:       make(map[string]HubStats, len(s.lanes)),
		UnknownZone: s.unknownZone.Load(),
		UnknownLane: s.unknownLane.Load(),
	}
	for id, h := range s.zones {
		st.Zones[id] = h.stats()
	}
	for id, h := range s.lanes {
		st.Lanes[id] = h.stats()
	}
	return st
}

// CloseStreams ends every open event stream and refuses new ones, so that
// http.Server.Shutdown can finish. Register it with
// http.Server.RegisterOnShutdown. Pages and other routes keep working.
func (s *Server) CloseStreams() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// NewHTTPServer returns an http.Server for h with the gateway's timeouts.
//
// WriteTimeout stays set, to bound every ordinary response, rather than 0
// as event streams would naively need: a zero WriteTimeout would let any
// client that stops reading hold a connection and a goroutine forever. The
// stream handler instead moves its own write deadline ahead before each
// write with http.ResponseController.SetWriteDeadline, which replaces the
// server's deadline for that response only. ReadTimeout does not cut
// streams: net/http clears the read deadline once a request without a body
// has been read.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

func serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte("ok\n"))
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// Devices that are not up are listed either way: a gateway with a dead
	// scanner still serves its other lanes, so it stays ready, but the
	// installer sees why the scanner is missing.
	var detail strings.Builder
	if s.o.Stats != nil {
		for _, d := range s.o.Stats().Devices {
			if d.State != edge.DeviceUp {
				fmt.Fprintf(&detail, "device %s (%s): %s", d.Device, d.Kind, d.State)
				if d.Detail != "" {
					fmt.Fprintf(&detail, ": %s", d.Detail)
				}
				detail.WriteByte('\n')
			}
		}
	}
	if s.o.Ready != nil {
		if err := s.o.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %s\n%s", err, detail.String())
			return
		}
	}
	if detail.Len() > 0 {
		fmt.Fprintf(w, "ready, degraded\n%s", detail.String())
		return
	}
	w.Write([]byte("ready\n"))
}

// collector exports the stream counters to Prometheus.
type collector struct{ s *Server }

var (
	clientsDesc = prometheus.NewDesc("redcarpet_signage_stream_clients",
		"Event streams connected now, by channel (signage or checkout) and place (zone or lane id).",
		[]string{"channel", "place"}, nil)
	sentDesc = prometheus.NewDesc("redcarpet_signage_frames_sent_total",
		"Event frames written to screens.", []string{"channel", "place"}, nil)
	droppedDesc = prometheus.NewDesc("redcarpet_signage_frames_dropped_total",
		"Event frames dropped for a screen whose buffer was full.", []string{"channel", "place"}, nil)
	authDesc = prometheus.NewDesc("redcarpet_http_auth_failures_total",
		"Checkout and POS requests refused for a missing, unknown or other lane's token.", nil, nil)
	playsDesc = prometheus.NewDesc("redcarpet_signage_plays_recorded_total",
		"Personal offers the signage players reported played (proof of play), committed to the outbox.", nil, nil)
	badRequestDesc = prometheus.NewDesc("redcarpet_pos_bad_requests_total",
		"POS request bodies refused as malformed or invalid (answered 400).", nil, nil)
	unknownDesc = prometheus.NewDesc("redcarpet_signage_unknown_place_total",
		"Views for a zone or lane that is not configured.", []string{"channel"}, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- clientsDesc
	ch <- sentDesc
	ch <- droppedDesc
	ch <- unknownDesc
	ch <- authDesc
	ch <- badRequestDesc
	ch <- playsDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	for _, g := range []struct {
		channel edge.Channel
		hubs    map[string]HubStats
		unknown uint64
	}{{edge.ChannelSignage, st.Zones, st.UnknownZone}, {edge.ChannelCheckout, st.Lanes, st.UnknownLane}} {
		for _, id := range slices.Sorted(maps.Keys(g.hubs)) {
			h := g.hubs[id]
			ch <- prometheus.MustNewConstMetric(clientsDesc, prometheus.GaugeValue, float64(h.Clients), string(g.channel), id)
			ch <- prometheus.MustNewConstMetric(sentDesc, prometheus.CounterValue, float64(h.Sent), string(g.channel), id)
			ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(h.Dropped), string(g.channel), id)
		}
		ch <- prometheus.MustNewConstMetric(unknownDesc, prometheus.CounterValue, float64(g.unknown), string(g.channel))
	}
	ch <- prometheus.MustNewConstMetric(authDesc, prometheus.CounterValue, float64(c.s.authFailures.Load()))
	ch <- prometheus.MustNewConstMetric(badRequestDesc, prometheus.CounterValue, float64(c.s.badRequests.Load()))
	ch <- prometheus.MustNewConstMetric(playsDesc, prometheus.CounterValue, float64(c.s.playsRecorded.Load()))
}
