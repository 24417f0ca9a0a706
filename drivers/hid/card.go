package hid

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/rfid"
	"github.com/redcarpet-retail/redcarpet/edge"
)

// Number formats of wedge RFID readers (configs: number_format).
const (
	FormatDecimal = "decimal" // the card number in decimal, leading zeros allowed: "0004718260"
	FormatHex     = "hex"     // the UID in hex, 3 to 10 bytes: "04A2B3C4D5E680"
)

// CardOpts configures a CardReader. Zero fields take the value in
// DefaultCardOpts.
type CardOpts struct {
	// Name is the device's configured name: the Source of its events and
	// the subject of its errors. Default "wedge_rfid".
	Name string
	// Debounce is how long a card must stay away before it is reported
	// again. Default 1.5 s; a negative value reports every line.
	Debounce time.Duration
	// NumberFormat is how the reader types card ids: FormatDecimal (the
	// default) or FormatHex.
	NumberFormat string
	// Meter counts lines that are not card ids (drivers.RejectFormat).
	// Nil counts nothing.
	Meter *drivers.Meter
}

// DefaultCardOpts is the configuration used for nil options and zero fields.
var DefaultCardOpts = CardOpts{Name: "wedge_rfid", Debounce: 1500 * time.Millisecond, NumberFormat: FormatDecimal}

// CardReader turns the lines a keyboard-wedge RFID reader types into card
// reads. An event's time is the time its line source gave the line (for a
// Keyboard, KeyboardOpts.Now); its UID follows the wedge convention of
// package rfid:
//
//	decimal  below 2^32: 4 bytes big-endian; below 2^56: 7 bytes; else rejected
//	hex      the bytes typed: an even number of hex digits, 3 to 10 bytes
//
// Surrounding spaces are ignored; any other line is counted
// drivers.RejectFormat.
type CardReader struct {
	src      LineSource
	o        CardOpts
	debounce *rfid.Debouncer
}

// NewCardReader returns a CardReader of the lines of src, usually a
// *Keyboard.
func NewCardReader(src LineSource, o *CardOpts) (*CardReader, error) {
	if src == nil {
		return nil, errors.New("hid: nil line source")
	}
	opts := DefaultCardOpts
	if o != nil {
		opts = *o
	}
	if opts.Name == "" {
		opts.Name = DefaultCardOpts.Name
	}
	if opts.Debounce == 0 {
		opts.Debounce = DefaultCardOpts.Debounce
	}
	if opts.NumberFormat == "" {
		opts.NumberFormat = DefaultCardOpts.NumberFormat
	}
	if opts.NumberFormat != FormatDecimal && opts.NumberFormat != FormatHex {
		return nil, fmt.Errorf("wedge reader %s: number format %q is not %s or %s", opts.Name, opts.NumberFormat, FormatDecimal, FormatHex)
	}
	return &CardReader{src: src, o: opts, debounce: rfid.NewDebouncer(max(opts.Debounce, 0))}, nil
}

// Run sends an edge.KindCardRead event on out for each presentation of a
// card, until ctx ends (it returns nil) or the line source fails (it returns
// the source's error, naming the device). Sends wait for room in out, and
// the source's reads wait meanwhile. Run must not be called concurrently.
func (c *CardReader) Run(ctx context.Context, out chan<- edge.Event) error {
	err := c.src.Run(ctx, func(text string, at time.Time) {
		uid, ok := cardUID(text, c.o.NumberFormat)
		if !ok {
			c.o.Meter.Reject(drivers.RejectFormat)
			return
		}
		if !c.debounce.Seen(uid, at) || ctx.Err() != nil {
			return
		}
		ev := edge.Event{Kind: edge.KindCardRead, Source: c.o.Name, Time: at, Card: &edge.CardRead{UID: uid}}
		select {
		case out <- ev:
		case <-ctx.Done():
		}
	})
	switch {
	case ctx.Err() != nil:
		return nil
	case err != nil:
		return fmt.Errorf("wedge reader %s: %w", c.o.Name, err)
	default:
		return fmt.Errorf("wedge reader %s: input ended", c.o.Name)
	}
}

// cardUID returns the card id a line holds in the given number format.
func cardUID(text, format string) ([]byte, bool) {
	text = strings.TrimSpace(text)
	if format == FormatHex {
		if len(text) < 6 || len(text) > 20 {
			return nil, false
		}
		uid, err := hex.DecodeString(text)
		if err != nil {
			return nil, false
		}
		return uid, true
	}
	n, err := strconv.ParseUint(text, 10, 64) // digits only: no sign, no underscores
	switch {
	case err != nil:
		return nil, false
	case n < 1<<32:
		return binary.BigEndian.AppendUint32(nil, uint32(n)), true
	case n < 1<<56:
		return binary.BigEndian.AppendUint64(nil, n)[1:], true
	}
	return nil, false
}
