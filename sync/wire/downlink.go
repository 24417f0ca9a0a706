package wire

import (
	"strings"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// Downlink: how a store converges to HQ's member and offer data.
//
// HQ keeps one change log per tenant: every change (a member upserted or
// erased, an offer upserted or deleted) gets the next version number. HQ
// publishes its head, retained, on HeadTopic. A store keeps the version it
// has applied (its cursor) in its database; whenever the head is ahead of
// the cursor — on every connection and on every new head — the store asks
// for the changes after its cursor on RequestTopic, and HQ answers with
// pages on ChangesTopic. When the cursor is older than the oldest change
// HQ still keeps, HQ answers with a snapshot instead: the complete member
// and offer data as of a version, in pages, after which the store deletes
// what the snapshot did not contain and carries on from that version.
//
// Nothing relies on the broker keeping messages: a page lost while the
// store was away is simply asked for again, from the same cursor. Applying
// a change twice is harmless (upserts and deletions are idempotent), so a
// page may be answered twice. Erasures are acknowledged by the store to HQ
// with a member.erased event on the uplink.

// HeadTopic is where HQ publishes, retained, its change log head for every
// store of a tenant.
func HeadTopic(tenant string) string { return Root + "/" + tenant + "/all/down/head" }

// ChangesTopic is where HQ answers one store's requests.
func ChangesTopic(tenant, store string) string {
	return Root + "/" + tenant + "/" + store + "/down/changes"
}

// RequestTopic is where a store asks HQ for changes.
func RequestTopic(tenant, store string) string {
	return Root + "/" + tenant + "/" + store + "/req/changes"
}

// RequestFilter matches every store's requests of a tenant ("+" for all).
func RequestFilter(tenant string) string { return Root + "/" + tenant + "/+/req/changes" }

// ParseRequestTopic returns the tenant and store of a request topic.
func ParseRequestTopic(topic string) (tenant, store string, ok bool) {
	rest, found := strings.CutPrefix(topic, Root+"/")
	if !found {
		return "", "", false
	}
	p := strings.Split(rest, "/")
	if len(p) != 4 || p[2] != "req" || p[3] != "changes" || p[0] == "" || p[1] == "" || p[1] == "all" {
		return "", "", false
	}
	return p[0], p[1], true
}

// Head is HQ's change log head for a tenant.
type Head struct {
	Version uint64    `json:"version"` // the latest change; 0 when there is none
	Oldest  uint64    `json:"oldest"`  // the oldest change still kept; an older cursor gets a snapshot
	At      time.Time `json:"at"`
}

// ChangeRequest asks HQ for the changes after Since. To continue a
// snapshot, Snapshot is the cursor HQ returned with the previous page (and
// SnapshotID its id); both are empty otherwise.
type ChangeRequest struct {
	RequestID  string `json:"request_id"`
	Since      uint64 `json:"since"`
	SnapshotID string `json:"snapshot_id,omitempty"`
	Snapshot   string `json:"snapshot,omitempty"`
	Max        int    `json:"max,omitempty"` // changes per page; HQ may send fewer
}

// ChangePage is HQ's answer: a page of changes after the request's Since,
// in version order, or a page of a snapshot.
type ChangePage struct {
	RequestID string        `json:"request_id"`
	Head      uint64        `json:"head"` // HQ's head when the page was built
	Snapshot  *SnapshotPage `json:"snapshot,omitempty"`
	Changes   []Change      `json:"changes"`
}

// SnapshotPage places a page in a snapshot.
type SnapshotPage struct {
	ID      string `json:"id"`      // the same on every page of one snapshot
	Version uint64 `json:"version"` // the change log version the snapshot reflects
	Next    string `json:"next"`    // cursor of the next page; "" on the last page
}

// ChangeKind names a downlink change.
type ChangeKind string

// Downlink change kinds.
const (
	ChangeMemberUpsert ChangeKind = "member.upsert"
	ChangeMemberErase  ChangeKind = "member.erase"
	ChangeOfferUpsert  ChangeKind = "offer.upsert"
	ChangeOfferDelete  ChangeKind = "offer.delete"
)

// Change is one versioned change. Exactly the payload of its kind is set.
// In a snapshot page Version is 0: the page's SnapshotPage.Version applies.
type Change struct {
	Version uint64         `json:"version,omitempty"`
	Kind    ChangeKind     `json:"kind"`
	Member  *MemberChange  `json:"member,omitempty"`  // member.upsert
	Erasure *MemberErasure `json:"erasure,omitempty"` // member.erase
	Offer   *edge.Offer    `json:"offer,omitempty"`   // offer.upsert
	OfferID string         `json:"offer_id,omitempty"`
}

// MemberChange is a member with the raw identifiers the store indexes. It
// travels from HQ to the store only, over the store's TLS connection; the
// store keeps the identifiers only as keyed pseudonyms.
type MemberChange struct {
	Member  edge.Member `json:"member"`
	Cards   []string    `json:"cards,omitempty"` // card ids in hex
	Loyalty string      `json:"loyalty_barcode,omitempty"`
	List    string      `json:"list_barcode,omitempty"`
}

// MemberErasure is an erasure request (GDPR Art. 17): the store removes the
// member, their card and barcode index entries and every not-yet-sent event
// that names them, and acknowledges with a member.erased event.
type MemberErasure struct {
	MemberID  string `json:"member_id"`
	RequestID string `json:"request_id"`
}

// Resending. A broker acknowledges a publish before it has delivered it, and
// may still lose it (a restart that forgets a shared subscription, a full
// queue). So a store keeps the events it sent for a while after their
// acknowledgement, and HQ, which sees the gaps in each epoch's sequence,
// asks for them again on ResendTopic. The store queues those it still has
// once more, under the same ids; HQ's deduplication makes a needless resend
// harmless.

// ResendTopic is where HQ asks one store to send events again.
func ResendTopic(tenant, store string) string {
	return Root + "/" + tenant + "/" + store + "/down/resend"
}

// ResendRequest names the sequence ranges of one epoch HQ is missing.
type ResendRequest struct {
	RequestID string     `json:"request_id"`
	Epoch     string     `json:"epoch"`
	Ranges    []SeqRange `json:"ranges"`
}

// SeqRange is an inclusive range of sequence numbers.
type SeqRange struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}
