package hq

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/edge/catalog"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// ImportBatch is how many changes an import appends per ChangeLog.Append
// (one transaction each).
const ImportBatch = 1000

// ImportResult is what an import read and appended.
type ImportResult struct {
	catalog.Result        // lines read, good and bad
	Appended       int    // changes appended to the change log
	Head           uint64 // the change log head after the last append (0: nothing appended)
}

// importer appends changes to a change log in batches.
type importer struct {
	ctx    context.Context
	log    ChangeLog
	tenant string
	batch  []wire.Change
	res    ImportResult
}

func (im *importer) add(c wire.Change) error {
	im.batch = append(im.batch, c)
	if len(im.batch) >= ImportBatch {
		return im.flush()
	}
	return nil
}

func (im *importer) flush() error {
	if len(im.batch) == 0 {
		return nil
	}
	head, err := im.log.Append(im.ctx, im.tenant, im.batch)
	if err != nil {
		return fmt.Errorf("append %d changes after %d: %w", len(im.batch), im.res.Appended, err)
	}
	im.res.Appended += len(im.batch)
	im.res.Head = head
	im.batch = im.batch[:0]
	return nil
}

func newImporter(ctx context.Context, log ChangeLog, tenant string) (*importer, error) {
	if !validID(tenant) {
		return nil, fmt.Errorf("import: malformed tenant id %q", tenant)
	}
	return &importer{ctx: ctx, log: log, tenant: tenant, batch: make([]wire.Change, 0, ImportBatch)}, nil
}

// ImportMembers reads a member file (the catalog's CSV or JSON Lines format,
// the one `redcarpet members import` loads) and appends a member.upsert
// change per good line to tenant's change log, ImportBatch changes per
// Append. Bad lines are reported to bad (which may be nil) and skipped, as
// catalog.ReadMembers does. loc is the time zone of dates without a time
// (nil: UTC). Card ids travel as upper-case hex.
//
// An import only inserts and replaces: a member missing from the file is
// left as it is (erase members with ImportErasures). What was appended
// before an error stays appended; the result says how much.
func ImportMembers(ctx context.Context, log ChangeLog, tenant string, r io.Reader, format catalog.Format, loc *time.Location, bad func(catalog.LineError)) (ImportResult, error) {
	im, err := newImporter(ctx, log, tenant)
	if err != nil {
		return ImportResult{}, err
	}
	res, err := catalog.ReadMembers(r, format, loc, func(m edge.MemberRecord) error {
		return im.add(wire.Change{Kind: wire.ChangeMemberUpsert, Member: MemberChange(&m)})
	}, bad)
	return im.finish(res, err)
}

// MemberChange converts a member record into its downlink form.
func MemberChange(m *edge.MemberRecord) *wire.MemberChange {
	mc := &wire.MemberChange{Member: m.Member, Loyalty: m.Loyalty, List: m.List}
	for _, uid := range m.Cards {
		mc.Cards = append(mc.Cards, strings.ToUpper(hex.EncodeToString(uid)))
	}
	return mc
}

// ImportOffers reads an offer file (the catalog's CSV or JSON Lines format)
// and appends an offer.upsert change per good line, as ImportMembers does.
func ImportOffers(ctx context.Context, log ChangeLog, tenant string, r io.Reader, format catalog.Format, loc *time.Location, bad func(catalog.LineError)) (ImportResult, error) {
	im, err := newImporter(ctx, log, tenant)
	if err != nil {
		return ImportResult{}, err
	}
	res, err := catalog.ReadOffers(r, format, loc, func(o edge.Offer) error {
		return im.add(wire.Change{Kind: wire.ChangeOfferUpsert, Offer: &o})
	}, bad)
	return im.finish(res, err)
}

func (im *importer) finish(res catalog.Result, err error) (ImportResult, error) {
	im.res.Result = res
	if err != nil {
		return im.res, fmt.Errorf("import: %w", err)
	}
	if err := im.flush(); err != nil {
		return im.res, fmt.Errorf("import: %w", err)
	}
	return im.res, nil
}

// ImportErasures reads erasure requests and appends a member.erase change
// for each. The file has the member id and, optionally, the request id
// that HQ's erasure workflow tracks; a missing request id is generated
// ("er-" and 24 hex digits). Formats:
//
//   - CSV: member_id[,request_id] per record; a first record whose first
//     field is "member_id" (any case) is a header, and may name the columns
//     in either order.
//   - JSON Lines: {"member_id": "M-1", "request_id": "GDPR-2026-118"}.
//
// A line with a malformed member id (the catalog's id rule) or request id
// (at most 128 bytes, printable, no spaces) is reported to bad and skipped.
// loc is unused and accepted for symmetry with the other imports.
func ImportErasures(ctx context.Context, log ChangeLog, tenant string, r io.Reader, format catalog.Format, _ *time.Location, bad func(catalog.LineError)) (ImportResult, error) {
	im, err := newImporter(ctx, log, tenant)
	if err != nil {
		return ImportResult{}, err
	}
	if bad == nil {
		bad = func(catalog.LineError) {}
	}
	var res catalog.Result
	emit := func(line int, memberID, requestID string) error {
		res.Lines++
		memberID, requestID = strings.TrimSpace(memberID), strings.TrimSpace(requestID)
		if err := checkChangeID("member id", memberID); err != nil {
			res.Bad++
			bad(catalog.LineError{Line: line, Field: "member_id", Err: errors.New(strings.TrimPrefix(err.Error(), "member id "))})
			return nil
		}
		if requestID == "" {
			requestID = newRequestID()
		} else if why := checkRequestID(requestID); why != "" {
			res.Bad++
			bad(catalog.LineError{Line: line, Field: "request_id", Err: errors.New(why)})
			return nil
		}
		res.Good++
		return im.add(wire.Change{Kind: wire.ChangeMemberErase, Erasure: &wire.MemberErasure{MemberID: memberID, RequestID: requestID}})
	}
	switch format {
	case catalog.FormatCSV:
		err = readErasuresCSV(r, emit, bad, &res)
	case catalog.FormatJSONL:
		err = readErasuresJSONL(r, emit, bad, &res)
	default:
		err = fmt.Errorf("%w %q", catalog.ErrFormat, format)
	}
	return im.finish(res, err)
}

func checkRequestID(s string) string {
	if len(s) > maxRequestBytes {
		return fmt.Sprintf("is longer than %d bytes", maxRequestBytes)
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return "contains white space or a control character"
		}
	}
	return ""
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "er-" + hex.EncodeToString(b[:])
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func readErasuresCSV(r io.Reader, emit func(int, string, string) error, bad func(catalog.LineError), res *catalog.Result) error {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	memberCol, requestCol := 0, 1
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			res.Lines++
			res.Bad++
			bad(catalog.LineError{Line: pe.StartLine, Err: pe.Err})
			continue
		}
		if err != nil {
			return fmt.Errorf("read erasures: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if h := strings.ToLower(strings.TrimSpace(rec[0])); first && (h == "member_id" || h == "request_id") {
			memberCol, requestCol = -1, -1
			for i, h := range rec {
				switch strings.ToLower(strings.TrimSpace(h)) {
				case "member_id":
					memberCol = i
				case "request_id":
					requestCol = i
				default:
					return fmt.Errorf("read erasures: %w: unknown column %q (want member_id, request_id)", catalog.ErrHeader, clip(h, 40))
				}
			}
			if memberCol < 0 {
				return fmt.Errorf("read erasures: %w: no member_id column", catalog.ErrHeader)
			}
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) > 2 {
			res.Lines++
			res.Bad++
			bad(catalog.LineError{Line: line, Err: fmt.Errorf("%d fields, want member_id[,request_id]", len(rec))})
			continue
		}
		get := func(i int) string {
			if i < 0 || i >= len(rec) {
				return ""
			}
			return rec[i]
		}
		if err := emit(line, get(memberCol), get(requestCol)); err != nil {
			return err
		}
	}
}

func readErasuresJSONL(r io.Reader, emit func(int, string, string) error, bad func(catalog.LineError), res *catalog.Result) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), catalog.MaxLineBytes)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if n == 1 {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var v struct {
			MemberID  string `json:"member_id"`
			RequestID string `json:"request_id"`
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil || dec.More() || !utf8.Valid(line) {
			res.Lines++
			res.Bad++
			bad(catalog.LineError{Line: n, Err: errors.New("not a JSON object with member_id and request_id")})
			continue
		}
		if err := emit(n, v.MemberID, v.RequestID); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read erasures: %w", err)
	}
	return nil
}
