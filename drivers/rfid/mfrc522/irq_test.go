package mfrc522

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// ioctlPin gives a gpiotest.Pin the timeout semantics of host v3.8.5's
// gpioioctl line, the IRQ pin on a Raspberry Pi: WaitForEdge(0) waits
// forever and a negative timeout returns false at once (periph/host#78).
type ioctlPin struct{ *gpiotest.Pin }

func (p ioctlPin) WaitForEdge(timeout time.Duration) bool {
	switch {
	case timeout == 0:
		return p.Pin.WaitForEdge(-1) // gpiotest's "forever"
	case timeout < 0:
		return false
	}
	return p.Pin.WaitForEdge(timeout)
}

func TestIRQPinZeroTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		raw := ioctlPin{&gpiotest.Pin{N: "GPIO24", EdgesChan: make(chan gpio.Level, 1)}}

		// The hazard: on such a pin, WaitForEdge(0) with no edge pending
		// does not return.
		returned := make(chan bool)
		go func() { returned <- raw.WaitForEdge(0) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case <-returned:
			t.Fatal("the ioctl-like pin returned from WaitForEdge(0) with no edge")
		default:
		}
		raw.EdgesChan <- gpio.Low // release it
		<-returned

		// What periph's driver gets instead.
		p := irqPin{raw}
		start := time.Now()
		if p.WaitForEdge(0) {
			t.Error("WaitForEdge(0) reported an edge with none pending")
		}
		if d := time.Since(start); d != flushWait {
			t.Errorf("WaitForEdge(0) returned after %s, want %s", d, flushWait)
		}
		raw.EdgesChan <- gpio.Low
		if !p.WaitForEdge(0) {
			t.Error("WaitForEdge(0) missed the pending edge")
		}
		// Other timeouts pass through.
		start = time.Now()
		if p.WaitForEdge(300*time.Millisecond) || time.Since(start) != 300*time.Millisecond {
			t.Error("WaitForEdge(300ms) did not wait 300 ms for nothing")
		}
	})
}

func TestIRQPinDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pin := &gpiotest.Pin{N: "GPIO24", EdgesChan: make(chan gpio.Level, 4)}
		p := irqPin{pin}
		for range 3 {
			pin.EdgesChan <- gpio.Low
		}
		start := time.Now()
		p.drain()
		if n := len(pin.EdgesChan); n != 0 {
			t.Errorf("%d edges left", n)
		}
		// Three edges taken at once, then one flushWait to see there is no
		// fourth.
		if d := time.Since(start); d != flushWait {
			t.Errorf("drain took %s, want %s", d, flushWait)
		}

		// A line that never stops bouncing does not hold the loop up.
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case pin.EdgesChan <- gpio.Low:
				case <-stop:
					return
				}
			}
		}()
		p.drain()
		close(stop)
	})
}

// TestRunOnIoctlSemantics reads a card through periph's driver with an IRQ
// pin that has gpioioctl's timeout semantics.
func TestRunOnIoctlSemantics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newRig(t, rigOpts{wrap: func(p *gpiotest.Pin) gpio.PinIn { return ioctlPin{p} }})
		g.chip.Present(uid7)
		time.Sleep(3 * time.Second)
		evs := g.events()
		if len(evs) != 1 || !bytes.Equal(evs[0].Card.UID, uid7) {
			t.Fatalf("%d events, want one with UID % X", len(evs), uid7)
		}
		if n := g.chip.Stats().UIDs; n < 5 {
			t.Errorf("the card was read %d times in 3 s: the loop hangs", n)
		}
	})
}
