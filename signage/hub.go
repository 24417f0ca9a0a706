package signage

import (
	"sync"
	"sync/atomic"
	"time"
)

// clientBuffer is how many frames may wait for one slow client before
// frames are dropped for it. Offers are rare (one per card tap): a screen
// that is 16 frames behind is stuck, not busy.
const clientBuffer = 16

// hub fans the frames of one zone or lane out to its connected clients.
type hub struct {
	// replayFor > 0 makes the hub hand its last frame to a client that
	// subscribes within replayFor of it.
	replayFor time.Duration

	mu      sync.Mutex
	clients map[chan []byte]struct{}
	last    []byte
	lastAt  time.Time

	sent    atomic.Uint64
	dropped atomic.Uint64
}

func newHub(replayFor time.Duration) *hub {
	return &hub{replayFor: replayFor, clients: map[chan []byte]struct{}{}}
}

// publish offers frame to every client without blocking: a client whose
// buffer is full misses it, and the miss is counted.
func (h *hub) publish(frame []byte, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.replayFor > 0 {
		h.last, h.lastAt = frame, now
	}
	for c := range h.clients {
		select {
		case c <- frame:
		default:
			h.dropped.Add(1)
		}
	}
}

// subscribe adds a client and returns its frames.
func (h *hub) subscribe(now time.Time) chan []byte {
	c := make(chan []byte, clientBuffer)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last != nil && now.Sub(h.lastAt) < h.replayFor {
		c <- h.last
	}
	h.clients[c] = struct{}{}
	return c
}

// unsubscribe removes a client. Frames still in its buffer are discarded.
func (h *hub) unsubscribe(c chan []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
}

// HubStats counts the event streams of one zone or lane.
type HubStats struct {
	Clients int    `json:"clients"` // streams connected now
	Sent    uint64 `json:"sent"`    // frames written to clients
	Dropped uint64 `json:"dropped"` // frames dropped for clients whose buffer was full
}

func (h *hub) stats() HubStats {
	h.mu.Lock()
	n := len(h.clients)
	h.mu.Unlock()
	return HubStats{Clients: n, Sent: h.sent.Load(), Dropped: h.dropped.Load()}
}
