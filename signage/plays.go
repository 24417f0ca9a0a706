package signage

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// Proof of play.
//
// A signage player reports each personal offer it played: which offer,
// which screen (an id the browser keeps), when it started and how long it
// stayed. It is the only thing a public screen may send, and it carries no
// personal data. The server accepts a play only for an offer frame it sent
// to that zone within playWindow, once per frame and screen, and from at
// most playScreens screens per frame; the engine commits the plays to the
// outbox as offer.played events. A player that cannot reach the gateway
// keeps its plays and sends them later.

const (
	playWindow  = 24 * time.Hour
	playFrames  = 2048 // frames remembered per zone
	playScreens = 16   // screens that may report one frame
	maxPlayMS   = 10 * 60 * 1000
	maxPlayBody = 64 << 10
)

// PlayRecorder commits proof-of-play events (edge.Engine implements it).
type PlayRecorder interface {
	RecordPlays(ctx context.Context, plays []edge.Played) error
}

var _ PlayRecorder = (*edge.Engine)(nil)

// SetPlays sets where proof-of-play reports go; call it before serving.
func (s *Server) SetPlays(p PlayRecorder) { s.o.Plays = p }

// frameKey names one offer frame sent to a zone.
type frameKey struct {
	zone, offer string
	at          int64 // the frame's at, unix ns
}

// sentFrames remembers the offer frames sent to each zone.
type sentFrames struct {
	mu     sync.Mutex
	frames map[frameKey]*sentFrame
	order  map[string][]frameKey // per zone, oldest first
}

type sentFrame struct {
	sent    time.Time
	screens map[string]bool // screens that reported it
}

func (f *sentFrames) add(k frameKey, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frames == nil {
		f.frames, f.order = map[frameKey]*sentFrame{}, map[string][]frameKey{}
	}
	if fr := f.frames[k]; fr != nil {
		fr.sent = now // the same frame again
		return
	}
	f.frames[k] = &sentFrame{sent: now, screens: map[string]bool{}}
	o := append(f.order[k.zone], k)
	for len(o) > playFrames || (len(o) > 0 && now.Sub(f.frames[o[0]].sent) > playWindow) {
		delete(f.frames, o[0])
		o = o[1:]
	}
	f.order[k.zone] = o
}

// claim marks frame k as played on screen; it reports whether the frame is
// known and whether this screen had reported it already.
func (f *sentFrames) claim(k frameKey, screen string, now time.Time) (known, dup bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fr := f.frames[k]
	if fr == nil || now.Sub(fr.sent) > playWindow {
		return false, false
	}
	if fr.screens[screen] {
		return true, true
	}
	if len(fr.screens) >= playScreens {
		return false, false
	}
	fr.screens[screen] = true
	return true, false
}

func (f *sentFrames) release(k frameKey, screen string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fr := f.frames[k]; fr != nil {
		delete(fr.screens, screen)
	}
}

// PlaysRequest is a player's report.
type PlaysRequest struct {
	Screen string       `json:"screen"`
	Plays  []PlayReport `json:"plays"`
}

// PlayReport is one offer played: At is the frame's "at", which names it.
type PlayReport struct {
	OfferID    string    `json:"offer_id"`
	At         time.Time `json:"at"`
	Started    time.Time `json:"started"`
	DurationMS int64     `json:"duration_ms"`
}

// PlaysAnswer says what happened to each play.
type PlaysAnswer struct {
	Recorded   int            `json:"recorded"`
	Duplicates int            `json:"duplicates"`
	Rejected   []PlayRejected `json:"rejected"`
}

// PlayRejected is a play refused, with the reason.
type PlayRejected struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

var screenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{4,64}$`)

// validate checks a decoded report.
func (r *PlaysRequest) validate() error {
	switch {
	case !screenRE.MatchString(r.Screen):
		return fmt.Errorf("screen: %q must be 4-64 characters of A-Z, a-z, 0-9, '_' and '-'", r.Screen)
	case len(r.Plays) == 0 || len(r.Plays) > edge.MaxPlays:
		return fmt.Errorf("plays: 1 to %d plays", edge.MaxPlays)
	}
	return nil
}

func (s *Server) servePlays(w http.ResponseWriter, r *http.Request) {
	zone := r.PathValue("zone")
	if _, ok := s.zones[zone]; !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown zone %q", zone))
		return
	}
	if s.o.Plays == nil {
		writeError(w, http.StatusServiceUnavailable, "proof of play is not recorded here")
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPlayBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", maxPlayBody))
		return
	}
	var req PlaysRequest
	if err := DecodeRequest(raw, &req); err != nil {
		s.badRequests.Add(1)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := req.validate(); err != nil {
		s.badRequests.Add(1)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := s.now()
	ans := PlaysAnswer{Rejected: []PlayRejected{}}
	var plays []edge.Played
	var claimed []frameKey
	for i, p := range req.Plays {
		k := frameKey{zone, p.OfferID, p.At.UnixNano()}
		switch known, dup := s.sent.claim(k, req.Screen, now); {
		case p.DurationMS <= 0 || p.DurationMS > maxPlayMS:
			if known && !dup {
				s.sent.release(k, req.Screen)
			}
			ans.Rejected = append(ans.Rejected, PlayRejected{i, fmt.Sprintf("duration_ms %d: want 1..%d", p.DurationMS, maxPlayMS)})
		case !known:
			ans.Rejected = append(ans.Rejected, PlayRejected{i, "no such offer was sent to this zone in the last 24 h"})
		case dup:
			ans.Duplicates++
		default:
			// The screen's clock may be off: the play starts no earlier
			// than the frame was sent and no later than now.
			start := p.Started
			if start.Before(p.At) || start.After(now) {
				start = p.At
			}
			plays = append(plays, edge.Played{OfferID: p.OfferID, Zone: zone, Screen: req.Screen, Started: start.UTC(), DurationMS: p.DurationMS})
			claimed = append(claimed, k)
		}
	}
	if len(plays) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), posTimeout)
		defer cancel()
		if err := s.o.Plays.RecordPlays(ctx, plays); err != nil {
			for _, k := range claimed { // not recorded: the player sends them again
				s.sent.release(k, req.Screen)
			}
			writeError(w, posStatus(err), err.Error())
			return
		}
	}
	ans.Recorded = len(plays)
	s.playsRecorded.Add(uint64(len(plays)))
	writeJSON(w, http.StatusOK, ans)
}
