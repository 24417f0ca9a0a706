package downlink

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// Bounds on what arrives from outside.
const (
	// MaxPageBytes bounds a page's payload. HQ's pages are about 256 KiB.
	MaxPageBytes = 8 << 20
	// MaxPageChanges bounds the changes of one page.
	MaxPageChanges = 20_000
	maxIDBytes     = 64
	maxTokenBytes  = 1024 // request, snapshot ids and snapshot cursors
	maxCards       = 32
	maxBarcode     = 128
)

// DecodePage parses a page published on the store's changes topic and
// checks its structure: a JSON object, within MaxPageBytes and
// MaxPageChanges, snapshot ids and cursors of sane length, and for a page
// of changes, versions above 0 in strictly increasing order. A page that
// fails is dropped whole (and asked for again). The changes themselves are
// checked one by one when applied (checkChange): a change this store
// cannot apply is skipped and counted, so one bad change never blocks the
// ones after it. DecodePage never panics (FuzzDecodePage).
func DecodePage(payload []byte) (*wire.ChangePage, error) {
	if len(payload) > MaxPageBytes {
		return nil, fmt.Errorf("page of %d bytes exceeds %d", len(payload), MaxPageBytes)
	}
	if t := bytes.TrimSpace(payload); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("page is not a JSON object")
	}
	var p wire.ChangePage
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("decode page: %w", err)
	}
	if len(p.RequestID) > maxTokenBytes {
		return nil, errors.New("request id too long")
	}
	if len(p.Changes) > MaxPageChanges {
		return nil, fmt.Errorf("%d changes, at most %d", len(p.Changes), MaxPageChanges)
	}
	if s := p.Snapshot; s != nil {
		if s.ID == "" || len(s.ID) > maxTokenBytes || len(s.Next) > maxTokenBytes {
			return nil, errors.New("snapshot id or cursor empty or too long")
		}
		return &p, nil
	}
	var last uint64
	for i := range p.Changes {
		v := p.Changes[i].Version
		if v == 0 || v <= last {
			return nil, fmt.Errorf("change %d: version %d after %d", i, v, last)
		}
		last = v
	}
	return &p, nil
}

// checkChange returns why c cannot be applied, or "". The reason never
// quotes a member's identifier; it names an offer whose segment matrix or
// holdout is wrong (edge.Offer.ValidateTargeting), and the depth key.
func checkChange(c *wire.Change) string {
	switch c.Kind {
	case wire.ChangeMemberUpsert:
		if c.Member == nil {
			return "member.upsert without member"
		}
		if !validID(c.Member.Member.ID) {
			return "member id malformed"
		}
		if len(c.Member.Cards) > maxCards {
			return "too many cards"
		}
		for _, s := range c.Member.Cards {
			if _, ok := parseCard(s); !ok {
				return "card id is not 3 to 10 bytes of hex"
			}
		}
		if len(c.Member.Loyalty) > maxBarcode || len(c.Member.List) > maxBarcode {
			return "barcode too long"
		}
	case wire.ChangeMemberErase:
		if c.Erasure == nil || !validID(c.Erasure.MemberID) {
			return "member.erase without a valid member id"
		}
		if len(c.Erasure.RequestID) > maxTokenBytes || bytes.IndexByte([]byte(c.Erasure.RequestID), 0) >= 0 {
			return "erasure request id malformed"
		}
	case wire.ChangeOfferUpsert:
		if c.Offer == nil || !validID(c.Offer.ID) {
			return "offer.upsert without a valid offer id"
		}
		if err := c.Offer.ValidateTargeting(); err != nil {
			return err.Error() // names the offer: an offer id is not personal data
		}
	case wire.ChangeOfferDelete:
		if !validID(c.OfferID) {
			return "offer.delete without a valid offer id"
		}
	default:
		return "unknown kind"
	}
	return ""
}

// validID is the catalog's id rule: 1 to 64 bytes of printable UTF-8
// without spaces. (A NUL byte, which the pending-erasure keys use as a
// separator, is not printable.)
func validID(s string) bool {
	if s == "" || len(s) > maxIDBytes || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == ' ' {
			return false
		}
	}
	return true
}

// parseCard decodes a card id in hex (either case), 3 to 10 bytes.
func parseCard(s string) ([]byte, bool) {
	b, err := hex.DecodeString(s)
	return b, err == nil && len(b) >= 3 && len(b) <= 10
}

// record converts a checked member change into what the store indexes.
func record(m *wire.MemberChange) edge.MemberRecord {
	r := edge.MemberRecord{Member: m.Member, Loyalty: m.Loyalty, List: m.List}
	for _, s := range m.Cards {
		uid, _ := parseCard(s)
		r.Cards = append(r.Cards, uid)
	}
	return r
}

// maxResendRanges bounds the ranges of one resend request.
const maxResendRanges = 10_000

// DecodeResend parses and checks HQ's request to send events again.
func DecodeResend(payload []byte) (*wire.ResendRequest, error) {
	if len(payload) > MaxPageBytes {
		return nil, fmt.Errorf("resend request of %d bytes exceeds %d", len(payload), MaxPageBytes)
	}
	var r wire.ResendRequest
	if err := json.Unmarshal(payload, &r); err != nil {
		return nil, fmt.Errorf("decode resend request: %w", err)
	}
	switch {
	case r.Epoch == "" || len(r.Epoch) > maxTokenBytes || len(r.RequestID) > maxTokenBytes:
		return nil, errors.New("resend request: epoch empty, or epoch or request id too long")
	case len(r.Ranges) == 0 || len(r.Ranges) > maxResendRanges:
		return nil, fmt.Errorf("resend request: %d ranges, want 1 to %d", len(r.Ranges), maxResendRanges)
	}
	for i, rg := range r.Ranges {
		if rg.From == 0 || rg.To < rg.From {
			return nil, fmt.Errorf("resend request: range %d is %d..%d", i, rg.From, rg.To)
		}
	}
	return &r, nil
}
