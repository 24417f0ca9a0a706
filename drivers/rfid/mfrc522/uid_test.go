package mfrc522

import "testing"

func TestCompleteUID(t *testing.T) {
	for _, c := range []struct {
		uid  []byte
		want bool
	}{
		{nil, false},
		{[]byte{0xDE, 0xAD, 0xBE, 0xEF}, true},
		{[]byte{0x08, 0x12, 0x34, 0x56}, true},                    // random UID (RID)
		{[]byte{0xDE, 0xAD, 0xBE, 0xEF, 0x22}, false},             // UID and BCC (WithBogusUID)
		{[]byte{0x04, 0xA2, 0x2C, 0x6A, 0x8B, 0x5C, 0x80}, true},  // NXP double size
		{[]byte{0x04, 0xA2, 0x2C, 0x88, 0x6A, 0x8B, 0x5C}, false}, // triple size, cut at level 2
		{[]byte{0x88, 0x04, 0xA2, 0x2C}, false},                   // a cascade level, not a UID
	} {
		if got := completeUID(c.uid); got != c.want {
			t.Errorf("completeUID(% X) = %v, want %v", c.uid, got, c.want)
		}
	}
}

func FuzzCompleteUID(f *testing.F) {
	f.Add([]byte{0xDE, 0xAD, 0xBE, 0xEF})
	f.Add([]byte{0x04, 0xA2, 0x2C, 0x88, 0x6A, 0x8B, 0x5C})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, uid []byte) {
		if !completeUID(uid) {
			return
		}
		if len(uid) != 4 && len(uid) != 7 {
			t.Fatalf("accepted a %d-byte UID", len(uid))
		}
		// The byte where a cascade tag would announce another level.
		if uid[len(uid)-4] == cascadeTag {
			t.Fatalf("accepted % X, which announces another cascade level", uid)
		}
	})
}
