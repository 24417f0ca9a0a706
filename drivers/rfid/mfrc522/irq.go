package mfrc522

import (
	"time"

	"periph.io/x/conn/v3/gpio"
)

const (
	// flushWait is how long a WaitForEdge meant as "take a pending edge, do
	// not wait" actually waits.
	flushWait = time.Millisecond
	// maxStaleEdges bounds drain, so that a line that keeps bouncing cannot
	// hold up the loop.
	maxStaleEdges = 16
)

// irqPin is the IRQ line as periph's driver sees it.
//
// periph's ReadUID ends with ClearInterrupt, which calls WaitForEdge(0)
// expecting a non-blocking flush of a pending edge. The gpio.PinIn contract
// leaves 0 unspecified, and on a Raspberry Pi with host v3.8.5 the pin is a
// gpioioctl line, whose WaitForEdge treats 0 as "wait forever" (and -1 as
// "return false at once"; periph/host#78). With no second edge pending,
// ReadUID would then never return. irqPin turns a zero timeout into
// flushWait, which means the same on every implementation.
type irqPin struct{ gpio.PinIn }

// WaitForEdge implements gpio.PinIn, waiting flushWait when asked for 0.
func (p irqPin) WaitForEdge(timeout time.Duration) bool {
	if timeout == 0 {
		timeout = flushWait
	}
	return p.PinIn.WaitForEdge(timeout)
}

// drain discards edges left pending since the last read attempt (the kernel
// queues every edge of a bouncing line, and the chip raises more than one
// IRQ per read). Between attempts the chip sends nothing to a card, so any
// pending edge is stale, and one left in the queue would end the next
// attempt's wait for a card at once. Callers must not be inside ReadUID.
func (p irqPin) drain() {
	for range maxStaleEdges {
		if !p.PinIn.WaitForEdge(flushWait) {
			return
		}
	}
}
