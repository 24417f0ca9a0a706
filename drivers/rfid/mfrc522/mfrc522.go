package mfrc522

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/spi"
	rc522 "periph.io/x/devices/v3/mfrc522"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/rfid"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// Opts configures a Reader. A zero duration, a nil Now and an empty Name
// take their defaults from DefaultOpts; a nil Meter or Logger is valid.
type Opts struct {
	// Name is the device name from the configuration. It becomes the Source
	// of every event and the device attribute of every log line. Default
	// "mfrc522".
	Name string
	// PollTimeout bounds one read attempt: how long the chip keeps calling
	// for a card (a REQA every 100 ms) before the loop goes round. Run
	// returns at most about this long after its context ends. Default
	// 750 ms.
	PollTimeout time.Duration
	// Debounce is how long a card must be out of the field before it counts
	// as presented again. The chip reads a resting card on every attempt;
	// the driver reports it once per presentation (rfid.Debouncer). Must be
	// longer than Rest. Default 1.5 s.
	Debounce time.Duration
	// Rest is the pause after a successful read. A resting card answers
	// within about a millisecond, so without it the loop would spin. Default
	// 250 ms.
	Rest time.Duration
	// Meter counts rejected reads: drivers.RejectFraming for a garbled
	// exchange with a card (wrong BCC, wrong number of bits, a parity or
	// CRC error) and drivers.RejectFormat for a UID periph could not read
	// whole (10 bytes). No card, or a card leaving the field halfway, is not
	// a reject.
	Meter *drivers.Meter
	// Now is the clock for event times and debouncing. Default time.Now.
	Now func() time.Time
	// Logger receives the chip version at start, rejects at debug level and
	// a warning when reads keep failing. It never receives a card UID.
	// Default: discard.
	Logger *slog.Logger
}

// DefaultOpts are the options New uses for a nil *Opts.
var DefaultOpts = Opts{
	Name:        "mfrc522",
	PollTimeout: 750 * time.Millisecond,
	Debounce:    1500 * time.Millisecond,
	Rest:        250 * time.Millisecond,
	Now:         time.Now,
}

var (
	// ErrNoAnswer is wrapped by New's error when nothing answers on the SPI
	// bus: VersionReg reads 0x00 or 0xFF.
	ErrNoAnswer = errors.New("no answer")
	// ErrRunning is returned by a second call of Run.
	ErrRunning = errors.New("mfrc522: Run called twice")
	// ErrClosed is returned by Run after Close.
	ErrClosed = errors.New("mfrc522: reader closed")
)

const (
	// oscStartup is how long the chip's oscillator may take to start after
	// NRSTPD goes high (datasheet §8.8.2: crystal start-up plus 37.74 µs;
	// generous, as in the Arduino MFRC522 library).
	oscStartup = 50 * time.Millisecond

	// retryPause is the first pause after a failed attempt; it doubles with
	// each consecutive failure up to maxRetryPause.
	retryPause    = 50 * time.Millisecond
	maxRetryPause = time.Second
	// warnAfter consecutive failed attempts log a warning, once per streak.
	warnAfter = 20
)

// Texts of periph's mfrc522 v3.7.4 errors that mean "no card", matched
// because the package exports no sentinel errors (commands/low_level.go).
const (
	// WaitForEdge: no card answered REQA within the timeout.
	errTextTimeout = "timeout waiting for IRQ edge"
	// CardWrite: the chip's timer ran out before the card answered, most
	// often because a card that answered REQA has left the field.
	errTextNoAnswer = "IRQ error"
)

// Reader reads the UIDs of the cards presented to one MFRC522.
type Reader struct {
	dev     *rc522.Dev
	bus     *busPort
	irq     irqPin
	port    string // the SPI port's name, for errors
	version byte
	o       Opts
	log     *slog.Logger
	deb     *rfid.Debouncer

	mu        sync.Mutex    // guards runDone
	runDone   chan struct{} // made when Run starts, closed when it returns
	closing   chan struct{} // closed by Close
	closeOnce sync.Once
	haltOnce  sync.Once
	haltErr   error
}

// New initialises the MFRC522 on port, with its NRSTPD line on reset and
// its IRQ output on irq (pulled up, falling edge), and checks that it
// answers. The caller keeps ownership of port and the pins: Close halts the
// chip but closes nothing.
//
// irq is mandatory: periph's driver waits for cards on it and crashes the
// process without it. New fails with an error wrapping ErrNoAnswer when
// VersionReg reads 0x00 or 0xFF, the signature of a chip that is not wired,
// not powered or not selected.
func New(port spi.Port, reset gpio.PinOut, irq gpio.PinIn, o *Opts) (*Reader, error) {
	if o == nil {
		o = &DefaultOpts
	}
	opts, err := o.resolve()
	if err != nil {
		return nil, err
	}
	if port == nil {
		return nil, errors.New("mfrc522: no SPI port")
	}
	name := port.String()
	if reset == nil {
		return nil, fmt.Errorf("mfrc522 on %s: no reset pin", name)
	}
	if irq == nil {
		return nil, fmt.Errorf("mfrc522 on %s: no IRQ pin; the driver needs the chip's IRQ output wired to a GPIO to detect cards", name)
	}

	// periph drives NRSTPD high and talks to the chip at once; a chip just
	// out of hard power-down would miss that and read as absent.
	if err := reset.Out(gpio.High); err != nil {
		return nil, fmt.Errorf("mfrc522 on %s: reset pin %s: %w", name, reset.Name(), err)
	}
	time.Sleep(oscStartup)

	bus := &busPort{Port: port}
	line := irqPin{irq}
	// No WithSync: with it, Halt waits for a pending ReadUID to time out.
	// Run is the only caller of ReadUID and Halt comes after its loop.
	dev, err := rc522.NewSPI(bus, reset, line)
	if bus.conn == nil {
		if err == nil {
			err = errors.New("no SPI connection")
		}
		return nil, fmt.Errorf("mfrc522 on %s: %w", name, err)
	}
	// With MISO stuck high, periph fails with "can not set the bitmask for
	// antenna" (google/periph#222); stuck low, it succeeds. Both read the
	// same way here.
	version, verr := readVersion(bus.conn)
	switch {
	case verr != nil:
		return nil, fmt.Errorf("mfrc522 on %s: read version: %w", name, verr)
	case version == 0x00 || version == 0xFF:
		return nil, fmt.Errorf("mfrc522 on %s: %w (version register reads 0x%02X); check wiring, power (3.3 V) and that SPI is enabled", name, ErrNoAnswer, version)
	case err != nil:
		return nil, fmt.Errorf("mfrc522 on %s: %w", name, err)
	}

	r := &Reader{
		dev:     dev,
		bus:     bus,
		irq:     line,
		port:    name,
		version: version,
		o:       opts,
		log:     opts.Logger.With("component", "mfrc522", "device", opts.Name),
		deb:     rfid.NewDebouncer(opts.Debounce),
		closing: make(chan struct{}),
	}
	r.log.Info("mfrc522 ready", "port", name, "chip", r.Version())
	return r, nil
}

// resolve fills in the defaults and checks the options.
func (o *Opts) resolve() (Opts, error) {
	r := *o
	if r.Name == "" {
		r.Name = DefaultOpts.Name
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"PollTimeout", &r.PollTimeout, DefaultOpts.PollTimeout},
		{"Debounce", &r.Debounce, DefaultOpts.Debounce},
		{"Rest", &r.Rest, DefaultOpts.Rest},
	} {
		if *d.v < 0 {
			return Opts{}, fmt.Errorf("mfrc522 %s: negative %s %s", r.Name, d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if r.Rest >= r.Debounce {
		return Opts{}, fmt.Errorf("mfrc522 %s: Rest %s must be shorter than Debounce %s, or a resting card is reported on every read", r.Name, r.Rest, r.Debounce)
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// Version describes the chip by its VersionReg (datasheet §9.3.4.8, and
// the values clones are known to report), such as "MFRC522 v2.0 (0x92)".
func (r *Reader) Version() string {
	switch r.version {
	case 0x91:
		return "MFRC522 v1.0 (0x91)"
	case 0x92:
		return "MFRC522 v2.0 (0x92)"
	case 0x88:
		return "FM17522 clone (0x88)"
	case 0x12:
		return "counterfeit MFRC522 (0x12)"
	}
	return fmt.Sprintf("unknown chip (0x%02X)", r.version)
}

// Run reads cards until ctx ends or Close is called, and sends one
// edge.KindCardRead event on out per presentation of a card. It returns nil
// then (cancellation is not an error), at most about PollTimeout later, and
// an error when the SPI bus fails. It does not close out. The chip is
// halted when Run returns, so Run may be called once; a second call returns
// ErrRunning, a call after Close ErrClosed.
func (r *Reader) Run(ctx context.Context, out chan<- edge.Event) error {
	r.mu.Lock()
	switch {
	case r.runDone != nil:
		r.mu.Unlock()
		return ErrRunning
	case r.closed():
		r.mu.Unlock()
		return ErrClosed
	}
	done := make(chan struct{})
	r.runDone = done
	r.mu.Unlock()
	defer close(done)
	defer func() {
		if err := r.halt(); err != nil {
			r.log.Warn("mfrc522 halt failed", "err", err)
		}
	}()

	streak := 0 // consecutive failed attempts
	for ctx.Err() == nil && !r.closed() {
		r.irq.drain()
		failed := r.bus.failures()
		uid, err := r.dev.ReadUID(r.o.PollTimeout)
		var pause time.Duration
		switch {
		case err == nil && completeUID(uid):
			streak = 0
			if !r.emit(ctx, out, uid) {
				return nil
			}
			pause = r.o.Rest
		case r.bus.failures() != failed:
			return fmt.Errorf("mfrc522 on %s: %w", r.port, err)
		case err != nil && strings.Contains(err.Error(), errTextTimeout):
			streak = 0 // no card: the attempt took PollTimeout
		default:
			streak++
			pause = min(retryPause<<min(streak-1, 8), maxRetryPause)
			switch {
			case err == nil:
				r.o.Meter.Reject(drivers.RejectFormat)
				err = fmt.Errorf("incomplete %d-byte UID: a 10-byte UID is beyond periph's driver", len(uid))
				r.log.Debug("mfrc522 read rejected", "err", err)
			case strings.Contains(err.Error(), errTextNoAnswer):
				// The card left the field halfway: no card, but no wait either.
			default:
				r.o.Meter.Reject(drivers.RejectFraming)
				r.log.Debug("mfrc522 read rejected", "err", err)
			}
			if streak == warnAfter {
				r.log.Warn("mfrc522 reads keep failing; a card at the edge of the field, or interference", "attempts", streak, "err", err)
			}
		}
		if pause > 0 && !r.pause(ctx, pause) {
			return nil
		}
	}
	return nil
}

// emit reports a sighting of uid, sending an event if it starts a new
// presentation. It reports false when ctx ended or the reader was closed
// while it waited for out.
func (r *Reader) emit(ctx context.Context, out chan<- edge.Event, uid []byte) bool {
	now := r.o.Now()
	if !r.deb.Seen(uid, now) {
		return true
	}
	ev := edge.Event{
		Kind:   edge.KindCardRead,
		Source: r.o.Name,
		Time:   now,
		Card:   &edge.CardRead{UID: bytes.Clone(uid)},
	}
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
	case <-r.closing:
	}
	return false
}

// pause waits d, and reports false when ctx ended or the reader was closed
// first.
func (r *Reader) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-r.closing:
	}
	return false
}

func (r *Reader) closed() bool {
	select {
	case <-r.closing:
		return true
	default:
		return false
	}
}

// Close stops Run, if it runs, waits for it to return (at most about
// PollTimeout) and halts the chip (soft power-down). It may be called any
// number of times, also concurrently with Run; it returns the halt's error
// each time. It closes neither the port nor the pins.
func (r *Reader) Close() error {
	r.closeOnce.Do(func() { close(r.closing) })
	r.mu.Lock()
	done := r.runDone
	r.mu.Unlock()
	if done != nil {
		<-done
	}
	return r.halt()
}

// halt halts the chip once: periph's Halt closes a channel, so a second
// call would panic. Only Run, after its loop, and Close, once no Run can
// use the chip, call it.
func (r *Reader) halt() error {
	r.haltOnce.Do(func() { r.haltErr = r.dev.Halt() })
	return r.haltErr
}
