package hid

import (
	"slices"
	"testing"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/hid/hidtest"
)

func FuzzDecoder(f *testing.F) {
	for _, size := range []int{24, 16} {
		kb := hidtest.Keyboard{Size: size}
		f.Add(kb.Type("0410000001233\n"), size == 16)
		f.Add(kb.Type("Hello, World!\x1d{}\n"), size == 16)
		s := &script{kb: kb}
		s.typ("12").dropped().typ("3\n").altCode("029").tap(hidtest.KeyTab).tap(hidtest.KeyCapsLock).typ("ab\n")
		f.Add(s.b, size == 16)
	}
	f.Fuzz(func(t *testing.T, records []byte, small bool) {
		size := 24
		if small {
			size = 16
		}
		const maxLine = 64
		var lines []string
		rejects := 0
		emit := func(s string) { lines = append(lines, s) }
		reject := func(reason string) {
			switch reason {
			case drivers.RejectDropped, drivers.RejectFraming, drivers.RejectFormat:
			default:
				t.Errorf("unknown reject reason %q", reason)
			}
			rejects++
		}
		d, err := NewDecoder(size, maxLine)
		if err != nil {
			t.Fatal(err)
		}
		d.Feed(records, emit, reject)
		for _, l := range lines {
			if l == "" || len(l) > maxLine {
				t.Errorf("line of %d characters", len(l))
			}
			for i := range len(l) {
				if !lineChar(l[i]) {
					t.Errorf("line %q holds %#x", l, l[i])
				}
			}
		}
		if len(lines)+rejects > len(records)/size {
			t.Errorf("%d lines and %d rejects from %d records", len(lines), rejects, len(records)/size)
		}
		// Splitting the input anywhere changes nothing.
		if len(records) > 0 {
			cut := int(records[0]) * len(records) / 256
			var split []string
			rejects2 := 0
			d, _ := NewDecoder(size, maxLine)
			count := func(string) { rejects2++ }
			d.Feed(records[:cut], func(s string) { split = append(split, s) }, count)
			d.Feed(records[cut:], func(s string) { split = append(split, s) }, count)
			if !slices.Equal(split, lines) || rejects2 != rejects {
				t.Errorf("split at %d: %q %d rejects, whole: %q %d rejects", cut, split, rejects2, lines, rejects)
			}
		}
	})
}
