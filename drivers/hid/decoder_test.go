package hid

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redcarpet-retail/redcarpet/drivers"
	"github.com/redcarpet-retail/redcarpet/drivers/hid/hidtest"
)

// decoded is what a Decoder produced.
type decoded struct {
	lines   []string
	rejects []string
}

// decode feeds the chunks to a new decoder of size-byte records.
func decode(t testing.TB, size int, chunks ...[]byte) decoded {
	t.Helper()
	d, err := NewDecoder(size, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got decoded
	for _, c := range chunks {
		d.Feed(c, func(s string) { got.lines = append(got.lines, s) }, func(r string) { got.rejects = append(got.rejects, r) })
	}
	return got
}

// script builds a record stream for one record size.
type script struct {
	kb hidtest.Keyboard
	b  []byte
}

func (s *script) typ(text string) *script { s.b = append(s.b, s.kb.Type(text)...); return s }
func (s *script) tap(code uint16, mods ...uint16) *script {
	s.b = s.kb.Tap(s.b, code, mods...)
	return s
}
func (s *script) key(code uint16, value int32) *script { s.b = s.kb.Key(s.b, code, value); return s }
func (s *script) rec(typ, code uint16, value int32) *script {
	s.b = append(s.b, hidtest.Record(s.kb.Size, s.kb.Time, typ, code, value)...)
	return s
}
func (s *script) dropped() *script { return s.rec(hidtest.EvSyn, hidtest.SynDropped, 0) }
func (s *script) report() *script  { return s.rec(hidtest.EvSyn, hidtest.SynReport, 0) }

// altCode types a character code on the keypad with Alt held.
func (s *script) altCode(digits string) *script {
	s.key(hidtest.KeyLeftAlt, hidtest.Press)
	for _, d := range digits {
		s.tap(hidtest.Keypad[d-'0'])
	}
	return s.key(hidtest.KeyLeftAlt, hidtest.Release)
}

// printable is every character a US keyboard types without a modifier
// other than Shift.
func printable() string {
	var b strings.Builder
	for c := byte(0x20); c <= 0x7E; c++ {
		b.WriteByte(c)
	}
	return b.String()
}

func TestDecoder(t *testing.T) {
	const (
		format  = drivers.RejectFormat
		framing = drivers.RejectFraming
		dropped = drivers.RejectDropped
	)
	tests := []struct {
		name    string
		script  func(s *script)
		lines   []string
		rejects []string
	}{
		{"EAN-13", func(s *script) { s.typ("0410000001233\n") }, []string{"0410000001233"}, nil},
		{"two lines", func(s *script) { s.typ("123\n456\n") }, []string{"123", "456"}, nil},
		{"all printable ASCII with left shift", func(s *script) { s.typ(printable() + "\n") }, []string{printable()}, nil},
		{"right shift", func(s *script) {
			s.kb.Shift = hidtest.KeyRightShift
			s.typ("Hello, World! {a_b}\n")
		}, []string{"Hello, World! {a_b}"}, nil},
		{"keypad", func(s *script) {
			for _, code := range append(hidtest.Keypad[:], 55, 74, 78, 83, 98) { // * - + . /
				s.tap(code)
			}
			s.tap(hidtest.KeyKPEnter)
		}, []string{"0123456789*-+./"}, nil},
		{"keypad ignores shift", func(s *script) {
			s.tap(hidtest.Keypad[7], hidtest.KeyLeftShift).tap(hidtest.KeyEnter)
		}, []string{"7"}, nil},
		{"Ctrl+] is GS", func(s *script) { s.typ("0104012345678901\x1d10ABC\x1d\n") }, []string{"0104012345678901\x1d10ABC\x1d"}, nil},
		{"Alt codes", func(s *script) {
			s.typ("01").altCode("029").typ("21").altCode("65").altCode("0097").tap(hidtest.KeyEnter)
		}, []string{"01\x1d21Aa"}, nil},
		{"Alt code 0", func(s *script) { s.typ("1").altCode("0").typ("2\n3\n") }, []string{"3"}, []string{format}},
		{"Alt code above 126", func(s *script) { s.typ("1").altCode("300").typ("2\n3\n") }, []string{"3"}, []string{format}},
		{"Alt code of 5 digits", func(s *script) { s.typ("1").altCode("00065").typ("\n") }, nil, []string{format}},
		{"Alt code control character", func(s *script) { s.altCode("9").typ("\n") }, nil, []string{format}},
		{"Alt with a letter", func(s *script) {
			s.key(hidtest.KeyLeftAlt, hidtest.Press).typ("a").key(hidtest.KeyLeftAlt, hidtest.Release).typ("\n")
		}, nil, []string{format}},
		{"Caps Lock", func(s *script) {
			s.tap(hidtest.KeyCapsLock).typ("abc1!A\n").tap(hidtest.KeyCapsLock).typ("abc\n")
		}, []string{"ABC1!a", "abc"}, nil},
		{"releases and autorepeat ignored", func(s *script) {
			code, _ := hidtest.KeyOf('7')
			s.key(code, hidtest.Press).key(code, hidtest.Repeat).key(code, hidtest.Repeat).key(code, hidtest.Release)
			s.key(code, hidtest.Release).typ("\n")
		}, []string{"7"}, nil},
		{"shift autorepeat keeps shift", func(s *script) {
			code, _ := hidtest.KeyOf('a')
			s.key(hidtest.KeyLeftShift, hidtest.Press).key(hidtest.KeyLeftShift, hidtest.Repeat)
			s.tap(code).key(hidtest.KeyLeftShift, hidtest.Release).tap(code).typ("\n")
		}, []string{"Aa"}, nil},
		{"SYN_DROPPED mid-line", func(s *script) {
			s.typ("123").dropped()
			code, _ := hidtest.KeyOf('9')
			s.key(code, hidtest.Press) // in the dropped packet: ignored up to SYN_REPORT
			s.typ("456\n789\n")
		}, []string{"789"}, []string{dropped}},
		{"SYN_DROPPED forgets shift", func(s *script) {
			s.key(hidtest.KeyLeftShift, hidtest.Press).dropped().report().typ("\nab\n")
		}, []string{"ab"}, []string{dropped}},
		{"SYN_DROPPED between lines", func(s *script) { s.typ("1\n").dropped().report().typ("2\n3\n") }, []string{"1", "3"}, []string{dropped}},
		{"Tab is not a character", func(s *script) { s.typ("12").tap(hidtest.KeyTab).typ("34\n56\n") }, []string{"56"}, []string{format}},
		{"Ctrl with another key", func(s *script) {
			code, _ := hidtest.KeyOf('a')
			s.typ("12").tap(code, hidtest.KeyLeftCtrl).typ("3\n")
		}, nil, []string{format}},
		{"overlong", func(s *script) {
			s.typ(strings.Repeat("9", DefaultMaxLine+1) + "\n" + strings.Repeat("8", DefaultMaxLine) + "\n")
		}, []string{strings.Repeat("8", DefaultMaxLine)}, []string{framing}},
		{"empty lines skipped", func(s *script) { s.typ("\n\n1\n\n") }, []string{"1"}, nil},
		{"buttons and other events ignored", func(s *script) {
			s.tap(0x110).rec(17, 1, 1).rec(4, 4, 458792).typ("5\n") // BTN_LEFT, EV_LED NUML, EV_MSC
		}, []string{"5"}, nil},
		{"no Enter yet", func(s *script) { s.typ("123") }, nil, nil},
	}
	for _, size := range []int{24, 16} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%d-byte", tt.name, size), func(t *testing.T) {
				s := &script{kb: hidtest.Keyboard{Size: size, Time: time.Unix(1700000000, 123456000)}}
				tt.script(s)
				got := decode(t, size, s.b)
				want := decoded{tt.lines, tt.rejects}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("got %q rejects %q, want %q %q", got.lines, got.rejects, want.lines, want.rejects)
				}
				// The same, however reads split the records.
				if got := decode(t, size, chunks(s.b, 1)...); !reflect.DeepEqual(got, want) {
					t.Errorf("byte by byte: %q %q", got.lines, got.rejects)
				}
				if got := decode(t, size, chunks(s.b, size+5)...); !reflect.DeepEqual(got, want) {
					t.Errorf("in chunks of %d: %q %q", size+5, got.lines, got.rejects)
				}
			})
		}
	}
}

// chunks splits b into pieces of n bytes.
func chunks(b []byte, n int) [][]byte { return slices.Collect(slices.Chunk(b, n)) }

func TestDecoderLayouts(t *testing.T) {
	// The same keystrokes in the other layout decode to garbage or nothing,
	// never to the same line: the record size matters.
	s := &script{kb: hidtest.Keyboard{Size: 16}}
	s.typ("0410000001233\n")
	if got := decode(t, 24, s.b); slices.Contains(got.lines, "0410000001233") {
		t.Errorf("16-byte records decoded as 24-byte ones: %q", got.lines)
	}
	if RecordSize != 24 && RecordSize != 16 {
		t.Errorf("RecordSize %d", RecordSize)
	}
	for _, bad := range []struct{ size, max int }{{8, 0}, {32, 0}, {24, -1}} {
		if _, err := NewDecoder(bad.size, bad.max); err == nil {
			t.Errorf("NewDecoder(%d, %d) succeeded", bad.size, bad.max)
		}
	}
	d, err := NewDecoder(0, 3)
	if err != nil || d.size != RecordSize || d.maxLine != 3 {
		t.Fatalf("NewDecoder(0, 3): %+v, %v", d, err)
	}
}

func TestDecoderNilReject(t *testing.T) {
	d, _ := NewDecoder(24, 0)
	var lines []string
	d.Feed(hidtest.Keyboard{}.Type("ab\n"), func(s string) { lines = append(lines, s) }, nil)
	s := &script{}
	s.tap(hidtest.KeyTab).typ("\nok\n")
	d.Feed(s.b, func(s string) { lines = append(lines, s) }, nil)
	if !slices.Equal(lines, []string{"ab", "ok"}) {
		t.Errorf("lines %q", lines)
	}
}

func BenchmarkDecoder(b *testing.B) {
	stream := bytes.Repeat(hidtest.Keyboard{}.Type("0410000001233\n"), 16)
	d, _ := NewDecoder(24, 0)
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		d.Feed(stream, func(string) {}, nil)
	}
}
