package hq

import (
	"errors"
	"fmt"

	"github.com/redcarpet-retail/redcarpet/edge"
	"github.com/redcarpet-retail/redcarpet/sync/wire"
)

// MaxIDBytes bounds an event id. Outbox ids ("<epoch>-<seq>") are about 20
// bytes; the bound keeps a hostile id from becoming a huge database key.
const MaxIDBytes = 256

// Reasons a message is rejected: the values of the reason label of
// redcarpet_hq_messages_rejected_total.
const (
	RejectTopic   = "topic"   // not an uplink topic of the subscribed tenant, or malformed ids in it
	RejectPayload = "payload" // not a valid CloudEvents batch (wire.DecodeBatch failed), or empty
	RejectSource  = "source"  // an event's source is not the store named by the topic
	RejectKind    = "kind"    // a raw device kind, a kind not matching the topic, or a malformed kind
	RejectID      = "id"      // an id longer than MaxIDBytes
	RejectSink    = "sink"    // the sink refused the batch for good (ErrRejected)
)

// rejection is why a message can never be stored.
type rejection struct {
	reason string
	err    error
}

func (r *rejection) Error() string { return r.reason + ": " + r.err.Error() }
func (r *rejection) Unwrap() error { return r.err }

func reject(reason, format string, args ...any) error {
	return &rejection{reason: reason, err: fmt.Errorf(format, args...)}
}

// rejectReason returns the reason of an error from decode, or "" if err is
// not a rejection.
func rejectReason(err error) string {
	var r *rejection
	if errors.As(err, &r) {
		return r.reason
	}
	return ""
}

// decode applies every check Ingest makes to a message that arrived from
// outside: the topic must be an uplink topic of tenant ("+" for any), the
// payload a CloudEvents batch of at least one event, and every event must
// come from the topic's store (a store cannot write into another store's
// data), carry a business kind that matches the topic (raw device events
// never reach HQ's data) and an id of at most MaxIDBytes. Any failure is an
// error for which rejectReason is not empty. decode never panics, whatever
// its input (see FuzzDecodeBatch).
func decode(tenant, topic string, payload []byte) (string, string, []wire.CloudEvent, error) {
	t, s, topicKind, ok := wire.ParseUplinkTopic(topic)
	if !ok {
		return "", "", nil, reject(RejectTopic, "%q is not an uplink topic", topic)
	}
	if tenant != "+" && t != tenant {
		return "", "", nil, reject(RejectTopic, "tenant %q is not the subscribed tenant %q", t, tenant)
	}
	if !validID(t) || !validID(s) {
		return "", "", nil, reject(RejectTopic, "tenant or store id in %q is malformed", topic)
	}
	evs, err := wire.DecodeBatch(payload)
	if err != nil {
		return "", "", nil, &rejection{reason: RejectPayload, err: err}
	}
	if len(evs) == 0 {
		return "", "", nil, reject(RejectPayload, "empty batch")
	}
	src := wire.Source(t, s)
	for i := range evs {
		e := &evs[i]
		if e.Source != src {
			// The source is attacker-controlled: report its length, not its text.
			return "", "", nil, reject(RejectSource, "event %d: source (%d bytes) is not %s", i, len(e.Source), src)
		}
		if len(e.ID) > MaxIDBytes {
			return "", "", nil, reject(RejectID, "event %d: id of %d bytes exceeds %d", i, len(e.ID), MaxIDBytes)
		}
		k, _ := wire.KindOf(e.Type) // DecodeBatch checked it
		switch {
		case !KindName(string(k)):
			return "", "", nil, reject(RejectKind, "event %d: malformed kind", i)
		case k.Local():
			return "", "", nil, reject(RejectKind, "event %d: raw device kind %s must not leave the store", i, k)
		case k.Topic() != "" && k.Topic() != topicKind:
			return "", "", nil, reject(RejectKind, "event %d: kind %s on topic kind %q", i, k, topicKind)
		}
		// A kind this build does not know (k.Topic() == "") is kept: a store
		// upgraded before HQ must not lose events, and a rejected message
		// is acknowledged, so rejecting it would drop it for good.
	}
	return t, s, evs, nil
}

// KindName reports whether s is an acceptable event kind name: 1 to 64
// bytes of a-z, 0-9, '.', '_' and '-', starting with a letter or digit. Every
// edge.Kind is one.
func KindName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// validID reports whether s has the shape configs requires of tenant and
// store ids: ^[a-z0-9][a-z0-9-]{0,62}$.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// kindOf is the kind of an event that passed decode.
func kindOf(e *wire.CloudEvent) edge.Kind {
	k, _ := wire.KindOf(e.Type)
	return k
}
