package em4100

import (
	"bytes"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/redcarpet-retail/redcarpet/drivers"
)

func FuzzParser(f *testing.F) {
	f.Add([]byte("\x02" + "62E3086CED08" + "\x03"))
	f.Add([]byte("\x02" + "01000734E0D2" + "\r\n\x03"))
	f.Add([]byte("\x02" + "62e3086ced08" + "\x03"))
	f.Add([]byte("\x02" + "01000734E0D3" + "\x03"))
	f.Add([]byte("\x00\xff\x02\x0201000734E0D2\x03\x02010007"))
	f.Add([]byte("\x02" + "01000G34E0D2" + "\x03"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var (
			p       Parser
			frames  []Frame
			rejects int
		)
		p.Feed(in, func(fr Frame) { frames = append(frames, fr) }, func(reason string) {
			if reason != drivers.RejectFraming && reason != drivers.RejectChecksum {
				t.Errorf("unknown reject reason %q", reason)
			}
			rejects++
		})
		if stx := bytes.Count(in, []byte{stx}); len(frames) > stx {
			t.Fatalf("%d frames from %d STX", len(frames), stx)
		}
		upper := bytes.Map(func(r rune) rune {
			if 'a' <= r && r <= 'f' {
				return r - 'a' + 'A'
			}
			return r
		}, in)
		for _, fr := range frames {
			enc := fr.Encode()
			// The frame was in the input: its data and checksum digits.
			if !bytes.Contains(upper, enc[1:13]) {
				t.Errorf("frame %X not in the input", enc)
			}
			// It re-encodes to a valid frame with a correct checksum.
			var q Parser
			var again []Frame
			q.Feed(enc, func(g Frame) { again = append(again, g) }, func(reason string) {
				t.Errorf("re-encoded frame %X rejected: %s", enc, reason)
			})
			if !slices.Equal(again, []Frame{fr}) {
				t.Errorf("re-encoded %v parses as %v", fr, again)
			}
			data, err := hex.DecodeString(string(enc[1:13]))
			if err != nil || enc[0] != stx || enc[13] != etx {
				t.Fatalf("re-encoded frame %X is malformed", enc)
			}
			if data[0]^data[1]^data[2]^data[3]^data[4] != data[5] {
				t.Errorf("re-encoded frame %X has a wrong checksum", enc)
			}
		}
		// Splitting the input anywhere changes nothing.
		if len(in) > 0 {
			cut := int(in[0]) % len(in)
			var (
				q        Parser
				split    []Frame
				rejects2 int
			)
			collect := func(fr Frame) { split = append(split, fr) }
			count := func(string) { rejects2++ }
			q.Feed(in[:cut], collect, count)
			q.Feed(in[cut:], collect, count)
			if !slices.Equal(split, frames) || rejects2 != rejects {
				t.Errorf("split at %d: %d frames %d rejects, whole: %d frames %d rejects", cut, len(split), rejects2, len(frames), rejects)
			}
		}
	})
}
