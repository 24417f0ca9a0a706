package edge

import (
	"context"
	"sync/atomic"
)

// DefaultInboxSize is the engine's input buffer when none is given.
const DefaultInboxSize = 4096

// Inbox is the engine's one bounded input. Every driver sends through it.
// A send that finds the inbox full is counted (Full) and then waits: events
// are never dropped, the sender is slowed down instead, and the count tells
// the operator the engine fell behind.
type Inbox struct {
	ch       chan Event
	full     atomic.Uint64
	accepted atomic.Uint64
}

// NewInbox returns an inbox holding up to size events (DefaultInboxSize if
// size <= 0).
func NewInbox(size int) *Inbox {
	if size <= 0 {
		size = DefaultInboxSize
	}
	return &Inbox{ch: make(chan Event, size)}
}

// Send queues ev for the engine. It returns ctx.Err() if ctx ends while the
// inbox is full; the event was then not queued.
func (in *Inbox) Send(ctx context.Context, ev Event) error {
	select {
	case in.ch <- ev:
		in.accepted.Add(1)
		return nil
	default:
	}
	in.full.Add(1)
	select {
	case in.ch <- ev:
		in.accepted.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Forward sends every event received from src until src is closed or ctx
// ends. Drivers with the Run(ctx, out chan<- Event) shape feed the engine
// through a channel forwarded here.
func (in *Inbox) Forward(ctx context.Context, src <-chan Event) error {
	for {
		select {
		case ev, ok := <-src:
			if !ok {
				return nil
			}
			if err := in.Send(ctx, ev); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// InboxStats is a snapshot of the inbox counters.
type InboxStats struct {
	Accepted uint64 // events queued
	Full     uint64 // sends that found the inbox full and had to wait
	Len, Cap int
}

// Stats returns the inbox counters.
func (in *Inbox) Stats() InboxStats {
	return InboxStats{Accepted: in.accepted.Load(), Full: in.full.Load(), Len: len(in.ch), Cap: cap(in.ch)}
}
