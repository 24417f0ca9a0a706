// Package hq is the HQ side of the uplink: Ingest consumes the stores'
// event batches from the MQTT broker and writes them to a Sink, which turns
// the stores' at-least-once delivery into exactly-once storage.
//
// # Delivery and acknowledgement
//
// Stores publish CloudEvents JSON batches at QoS 1 to
// redcarpet/v1/{tenant}/{store}/up/{kind} (package wire) and may send a
// batch more than once: after a lost PUBACK, a reconnect or a restart. An
// Ingest worker subscribes at QoS 1 with a persistent session
// (CleanSession=false), so the broker queues messages for it while it is
// away, and with paho's automatic acknowledgement disabled. A message is
// acknowledged (PUBACK) only after the sink committed its events, or after
// it was rejected for good. If the worker dies between commit and
// acknowledgement, the broker delivers the message again and the sink
// counts its events as duplicates: nothing is lost and nothing is stored
// twice.
//
// paho's handler does not touch the sink: it hands the message to a bounded
// queue that Workers goroutines drain. When the queue is full the handler
// waits in paho's per-message goroutine (OrderMatters is false), never in
// paho's reader, so keepalives and acknowledgements keep flowing; the number
// of such waiting messages is bounded by the broker's in-flight window for
// the session, and the broker keeps the rest. A sink error is retried with
// exponential backoff on the same message, without acknowledging it, so a
// sink outage backs up into the broker instead of dropping data.
//
// Every connection uses a new paho client with AutoReconnect off; Ingest
// reconnects with jittered backoff itself. The broker's session, not the
// client, carries the subscription and the unacknowledged messages across
// connections.
//
// The broker's queue for a session is finite, and what overflows it is
// lost after the store already had its PUBACK: Mosquitto drops beyond
// max_queued_messages (1000 by default) and mochi beyond MaximumInflight
// (8192) unacknowledged messages per client. Size those limits for the
// longest HQ outage to survive; the sink's per-epoch coverage shows the
// gaps if they were exceeded.
//
// # What is rejected
//
// A message is rejected, counted by reason (RejectTopic …), logged without
// its payload, and acknowledged, so that a poison message cannot come back
// forever, when its topic is not an uplink topic of the subscribed tenant,
// its payload is not a non-empty CloudEvents batch (wire.DecodeBatch), an
// event's source is not the store named by the topic (a store must never
// write into another store's data; the broker's per-store ACL guards the
// topic, this check guards the payload), an event is a raw device kind or a
// kind that does not match the topic, or an id exceeds MaxIDBytes. A kind
// this build does not know is stored, not rejected: a store upgraded before
// HQ must not lose events. A sink may reject a batch it can never store by
// returning an error wrapping ErrRejected.
//
// # Shared subscriptions
//
// Workers subscribe to $share/{group}/redcarpet/v1/{tenant}/+/up/+ (MQTT 5
// shared subscriptions, which Mosquitto 2, EMQX, HiveMQ and mochi-mqtt
// also offer to 3.1.1 clients): the broker gives each message to one worker
// of the group, so workers with the same group and distinct client ids
// split the load. Exactly-once does not depend on that: should two workers
// store the same message (a redelivery to another member, a second group),
// the sink's deduplication still keeps one copy. Each worker's client id
// names its persistent session; while a worker is down, what the broker
// routed to its session waits for it (mochi and Mosquitto keep choosing
// among all sessions of the group, connected or not).
//
// # Deduplication
//
// The deduplication key is (CloudEvents source, id). Ingest admits only
// events whose source is wire.Source(tenant, store) of their topic, so the
// key is (tenant, store, id), and the sink checks and records it in the
// same transaction that stores the event. Store ids are "<epoch>-<seq>"
// (outbox.ParseID): the random epoch of the store's database file and a
// sequence number that never repeats within it.
//
// # BoltSink layout
//
// BoltSink is the embedded Sink, one bbolt file written in one transaction
// per Store call (one fsync per MQTT message, so per batch of events):
//
//	hq.meta                           format → "1"
//	hq.stores/                        one bucket per store
//	  <tenant>/<store>/
//	    ids/         <id> → <kind>    every id ever stored: the dedup index
//	    counts/      events, duplicates, unsequenced → uint64
//	    kinds/       <kind> → uint64  events stored per kind
//	    epochs/      one bucket per epoch of the store's ids
//	      <epoch>/   watermark → uint64: every seq in 1..watermark is held
//	                 held_n → uint64: number of keys in held
//	        held/    <seq> → ""       seqs above watermark+1 that are held
//	hq.events/                        the event data
//	  <kind>/
//	    <tenant>/<store>/
//	      <id> → CloudEvent JSON      the event as received (envelope and data)
//
// Integers are 8-byte big-endian, so held seqs iterate in numeric order.
// When seq watermark+1 arrives the watermark advances over the held seqs
// that follow, so held stays small unless there is a real gap (or a backlog
// draining priority by priority). Coverage derives, per epoch, the count,
// the highest seq and the number of gaps from that; Missing lists the gaps.
// Ids that are not canonical "<epoch>-<seq>" are stored and deduplicated by
// the full id and counted as unsequenced. Every value a query returns is
// copied out of its read transaction.
//
// Queries for reports (Stores, Events, Traffic, Offers; see
// postgres.Reports) read that layout as it is: there is no index by time,
// so Events and Traffic read every event of the store's kinds asked for
// and keep the matching ones. Offers reads the change log kept in the same
// file (BoltSink.ChangeLog), and works on a file opened read-only.
//
// bbolt allows one writing process per file, and a writer excludes readers
// of other processes: OpenBolt and OpenBoltReadOnly fail with ErrLocked
// after a second. Query a running worker through its metrics instead.
package hq
