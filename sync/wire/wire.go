// Package wire is the contract between a store and HQ: MQTT topic names and
// the CloudEvents 1.0 JSON payloads carried on them.
//
// Uplink messages use the CloudEvents JSON batch format
// (application/cloudevents-batch+json): a JSON array of events, all of one
// kind, published at QoS 1 to redcarpet/v1/{tenant}/{store}/up/{kind}. The
// event id is unique within its source and is HQ's deduplication key.
// Retained store state lives at redcarpet/v1/{tenant}/{store}/state.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redcarpet-retail/redcarpet/edge"
)

// Root is the first topic level of every RedCarpet topic.
const Root = "redcarpet/v1"

// SpecVersion is the CloudEvents version written and accepted.
const SpecVersion = "1.0"

// BatchContentType is the content type of an uplink message.
const BatchContentType = "application/cloudevents-batch+json"

// TypePrefix starts every CloudEvents type RedCarpet emits; the event kind
// and a version follow: "com.redcarpet.footfall.interval.v1".
const TypePrefix = "com.redcarpet."

// UplinkTopic is where a store publishes events of one kind.
func UplinkTopic(tenant, store string, k edge.Kind) string {
	return Root + "/" + tenant + "/" + store + "/up/" + k.Topic()
}

// UplinkFilter matches every uplink topic of a tenant ("+" for all).
func UplinkFilter(tenant string) string { return Root + "/" + tenant + "/+/up/+" }

// StateTopic is a store's retained state topic (online/offline, backlog).
func StateTopic(tenant, store string) string { return Root + "/" + tenant + "/" + store + "/state" }

// ParseUplinkTopic splits an uplink topic into tenant, store and kind topic.
func ParseUplinkTopic(topic string) (tenant, store, kind string, ok bool) {
	rest, found := strings.CutPrefix(topic, Root+"/")
	if !found {
		return "", "", "", false
	}
	p := strings.Split(rest, "/")
	if len(p) != 4 || p[2] != "up" || p[0] == "" || p[1] == "" || p[3] == "" {
		return "", "", "", false
	}
	return p[0], p[1], p[3], true
}

// Source is the CloudEvents source of a store.
func Source(tenant, store string) string { return "/" + Root + "/" + tenant + "/" + store }

// Type is the CloudEvents type of an event kind.
func Type(k edge.Kind) string { return TypePrefix + string(k) + ".v1" }

// KindOf returns the event kind of a CloudEvents type written by Type.
func KindOf(typ string) (edge.Kind, bool) {
	s, ok := strings.CutPrefix(typ, TypePrefix)
	if !ok {
		return "", false
	}
	s, ok = strings.CutSuffix(s, ".v1")
	return edge.Kind(s), ok && s != ""
}

// CloudEvent is one event in CloudEvents 1.0 JSON format.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// ErrNoID is returned when encoding an event the outbox has not numbered.
var ErrNoID = errors.New("event has no id")

// Encode converts business events to CloudEvents. Raw device events are
// refused: they must never leave the store.
func Encode(tenant, store string, evs []edge.Event) ([]CloudEvent, error) {
	src := Source(tenant, store)
	out := make([]CloudEvent, 0, len(evs))
	for i := range evs {
		e := &evs[i]
		if e.Kind.Local() {
			return nil, fmt.Errorf("encode %s: raw device events stay in the store", e.Kind)
		}
		if e.ID == "" {
			return nil, fmt.Errorf("encode %s: %w", e.Kind, ErrNoID)
		}
		data, err := payload(e)
		if err != nil {
			return nil, err
		}
		out = append(out, CloudEvent{
			SpecVersion: SpecVersion, ID: e.ID, Source: src, Type: Type(e.Kind),
			Time: e.Time.UTC(), DataContentType: "application/json", Data: data,
		})
	}
	return out, nil
}

func payload(e *edge.Event) (json.RawMessage, error) {
	var v any
	switch e.Kind {
	case edge.KindRecognition:
		v = e.Recognition
	case edge.KindOfferShown:
		v = e.Exposure
	case edge.KindFootfall:
		v = e.Footfall
	case edge.KindDeviceStatus:
		v = e.Device
	case edge.KindErased:
		v = e.Erased
	case edge.KindRedeemed:
		v = e.Redemption
	case edge.KindBasket:
		v = e.Basket
	case edge.KindPlayed:
		v = e.Played
	case edge.KindTraffic:
		v = e.Traffic
	case edge.KindTrafficDay:
		v = e.Day
	case edge.KindVisit:
		v = e.Visit
	case edge.KindWithheld:
		v = e.Withheld
	default:
		return nil, fmt.Errorf("encode: no wire format for kind %q", e.Kind)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return json.Marshal(v)
}

// MarshalBatch encodes events as one CloudEvents JSON batch.
func MarshalBatch(evs []CloudEvent) ([]byte, error) { return json.Marshal(evs) }

// MaxBatchBytes bounds what DecodeBatch accepts.
const MaxBatchBytes = 8 << 20

// DecodeBatch parses a CloudEvents JSON batch and checks every event's
// required attributes. One bad event rejects the batch: a store never sends
// one, so it signals a broken or hostile publisher.
func DecodeBatch(payload []byte) ([]CloudEvent, error) {
	if len(payload) > MaxBatchBytes {
		return nil, fmt.Errorf("batch of %d bytes exceeds %d", len(payload), MaxBatchBytes)
	}
	if t := bytes.TrimSpace(payload); len(t) == 0 || t[0] != '[' {
		return nil, errors.New("batch is not a JSON array")
	}
	var evs []CloudEvent
	if err := json.Unmarshal(payload, &evs); err != nil {
		return nil, fmt.Errorf("decode batch: %w", err)
	}
	for i := range evs {
		if err := evs[i].Check(); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
	}
	return evs, nil
}

// Check verifies the attributes CloudEvents 1.0 requires and RedCarpet uses.
func (c *CloudEvent) Check() error {
	switch {
	case c.SpecVersion != SpecVersion:
		return fmt.Errorf("specversion %q, want %q", c.SpecVersion, SpecVersion)
	case c.ID == "":
		return errors.New("missing id")
	case c.Source == "":
		return errors.New("missing source")
	case c.Type == "":
		return errors.New("missing type")
	case len(c.Data) == 0 || string(c.Data) == "null":
		return errors.New("missing data")
	}
	if _, ok := KindOf(c.Type); !ok {
		return fmt.Errorf("type %q is not a RedCarpet type", c.Type)
	}
	return nil
}

// State is a store's retained state message. The broker publishes the
// offline variant as the store's Last Will.
//
// Epoch and Seq are the store's watermark: the highest sequence number it
// has assigned in that epoch, so HQ can tell a gap in what it holds from
// events not produced yet. Downlink is the change log version the store has
// applied.
type State struct {
	Online   bool      `json:"online"`
	Version  string    `json:"version,omitempty"`
	Backlog  int       `json:"backlog"`
	Epoch    string    `json:"epoch,omitempty"`
	Seq      uint64    `json:"seq"`
	Downlink uint64    `json:"downlink"`
	At       time.Time `json:"at"`
	// Recovered is set when the store found its database corrupt at its
	// last start and replaced it by a fresh one (resynchronised from HQ):
	// what was wrong. Events still queued in the old file were lost.
	Recovered string `json:"recovered,omitempty"`
}
