package signage

import (
	"errors"
	"net/http"
	"time"
)

var (
	// streamStart tells EventSource to reconnect 3 s after losing the stream.
	streamStart = []byte("retry: 3000\n\n")
	// ping keeps idle streams open through proxies and tells the page the
	// connection is alive. It is an event rather than a comment because
	// comments never reach the page's JavaScript.
	ping = []byte("event: ping\ndata: {}\n\n")
)

func (s *Server) serveSignageEvents(w http.ResponseWriter, r *http.Request) {
	h, ok := s.zones[r.PathValue("zone")]
	if !ok {
		s.notFound(w, "zone", r.PathValue("zone"))
		return
	}
	s.stream(w, r, h)
}

func (s *Server) serveCheckoutEvents(w http.ResponseWriter, r *http.Request) {
	h, ok := s.lanes[r.PathValue("lane")]
	if !ok {
		s.notFound(w, "lane", r.PathValue("lane"))
		return
	}
	if !s.laneAuth(w, r, r.PathValue("lane")) {
		return
	}
	s.stream(w, r, h)
}

// stream serves h's frames as text/event-stream until the client leaves, a
// write fails or CloseStreams is called.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, h *hub) {
	select {
	case <-s.closing:
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	default:
	}
	// Subscribe before the headers go out: a client that has the headers
	// receives every frame published after that.
	frames := h.subscribe(s.now())
	defer h.unsubscribe(frames)

	rc := http.NewResponseController(w)
	write := func(b []byte) error {
		// Each write gets its own deadline; see NewHTTPServer. Without
		// deadline support the server's WriteTimeout ends the stream and
		// the page reconnects.
		if err := rc.SetWriteDeadline(time.Now().Add(s.writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}

	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return // a monitoring probe: the headers say it all
	}
	if err := write(streamStart); err != nil {
		s.log.Debug("event stream", "path", r.URL.Path, "err", err)
		return
	}

	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	for {
		var err error
		select {
		case f := <-frames:
			if err = write(f); err == nil {
				h.sent.Add(1)
			}
		case <-tick.C:
			err = write(ping)
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
		if err != nil {
			s.log.Debug("event stream ended", "path", r.URL.Path, "err", err)
			return
		}
	}
}
