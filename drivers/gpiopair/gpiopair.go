package gpiopair

import (
	"context"
	"errors"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Edge is one edge on one of the two lines of a Source.
type Edge struct {
	Line  int        // 0 for the first line, 1 for the second
	Level gpio.Level // the level the line went to
	At    time.Time  // when the edge was observed; never before the previous edge's At
}

// Errors returned by Source.Next.
var (
	// ErrTimeout reports that no edge arrived within the timeout.
	ErrTimeout = errors.New("gpiopair: no edge within the timeout")
	// ErrClosed reports that the source was closed.
	ErrClosed = errors.New("gpiopair: source closed")
)

// Source is a time-ordered stream of the edges of two GPIO input lines.
type Source interface {
	// Next returns the next edge. It waits at most timeout: a negative
	// timeout waits without limit, zero only takes an edge already queued.
	// It returns ErrTimeout when the timeout expired, ctx.Err() when ctx
	// ended, ErrClosed after Close, and the lines' error when reading them
	// failed (the source is then unusable: close it and open a new one).
	// Only one goroutine may call Next at a time.
	Next(ctx context.Context, timeout time.Duration) (Edge, error)

	// Close stops reading the lines and returns once every goroutine of the
	// source has exited. It is safe to call more than once and from any
	// goroutine; a pending Next returns ErrClosed.
	Close() error
}

const (
	// queueLen is how many edges a source holds for a consumer that lags:
	// ten 34-bit Wiegand frames, or minutes of beam edges.
	queueLen = 512

	// pollInterval bounds every wait on a line, so the goroutines notice
	// Close even where Halt cannot interrupt the wait (gpiotest, or a Halt
	// racing with the start of a wait). It is never zero: gpioioctl reads a
	// zero timeout as "forever".
	pollInterval = 250 * time.Millisecond
)

// item is an edge or, last of all, the error that stopped the producer.
type item struct {
	e   Edge
	err error
}

// stream is the Source both implementations share: producers stamp edges
// and queue them; Next takes them in order.
type stream struct {
	q    chan item
	stop chan struct{} // closed by Close
	wg   sync.WaitGroup
	mu   sync.Mutex // held from stamping to queueing, so At never decreases

	halt    func()       // interrupts pending waits; called once, by Close
	release func() error // frees the lines once the producers exited

	closeOnce sync.Once
	closeErr  error

	err error // the producer's error once Next returned it; owned by Next
}

func newStream() *stream {
	return &stream{q: make(chan item, queueLen), stop: make(chan struct{})}
}

// Next implements Source.
func (s *stream) Next(ctx context.Context, timeout time.Duration) (Edge, error) {
	if s.err != nil {
		return Edge{}, s.err
	}
	if err := ctx.Err(); err != nil {
		return Edge{}, err
	}
	select {
	case <-s.stop:
		return Edge{}, ErrClosed
	default:
	}
	select {
	case it := <-s.q:
		return s.take(it)
	default:
	}
	if timeout == 0 {
		return Edge{}, ErrTimeout
	}
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case it := <-s.q:
		return s.take(it)
	case <-expired:
		return Edge{}, ErrTimeout
	case <-ctx.Done():
		return Edge{}, ctx.Err()
	case <-s.stop:
		return Edge{}, ErrClosed
	}
}

func (s *stream) take(it item) (Edge, error) {
	if it.err != nil {
		s.err = it.err
		return Edge{}, it.err
	}
	return it.e, nil
}

// Close implements Source.
func (s *stream) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		if s.halt != nil {
			s.halt()
		}
		s.wg.Wait()
		if s.release != nil {
			s.closeErr = s.release()
		}
	})
	return s.closeErr
}

// stopped reports whether Close was called.
func (s *stream) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// push stamps an edge of line with the current time and queues it,
// waiting while the queue is full. It returns false once the source is
// closing.
func (s *stream) push(line int, level gpio.Level) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.q <- item{e: Edge{Line: line, Level: level, At: time.Now()}}:
		return true
	case <-s.stop:
		return false
	}
}

// fail queues the error that stopped a producer, after its edges.
func (s *stream) fail(err error) {
	select {
	case s.q <- item{err: err}:
	case <-s.stop:
	}
}

// pause waits d or until Close, and reports whether the source is still
// open.
func (s *stream) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stop:
		return false
	}
}
