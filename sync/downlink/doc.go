// Package downlink keeps a store's member and offer data converged to HQ's
// change log (package wire describes the contract; hq.Responder is the
// other side). It applies HQ's versioned changes to the member store,
// carries out erasure requests, and never relies on the broker keeping a
// message: whatever was lost while the store was away is asked for again.
//
// # Protocol, from the store's side
//
// The downlink has no MQTT connection of its own: a store has one client
// id, and a second client with it would take the session away. It shares
// the uplink's connection through the uplink's hooks: OnConnect calls
// Attach, which subscribes at QoS 1 to the tenant's retained head
// (wire.HeadTopic) and the store's changes (wire.ChangesTopic), and
// OnDisconnect calls Detach. paho's handlers only hand payloads to Run,
// the one goroutine that applies them and publishes requests.
//
// The store's cursor is the last version it applied. Run asks
// (wire.RequestTopic, QoS 1, a fresh request id) whenever it may be
// behind: on every Attach, when the retained head is ahead of the cursor,
// after a page when HQ's head is still ahead, and when a page that does
// not fit arrives while no question is open. One question is open at a
// time; one not answered within RetryAfter is asked again with the same
// id. A page of changes is
// applied when it answers the open question "changes after the cursor", or
// when its first change is exactly cursor+1 (a duplicate answer, or the
// answer to an earlier question); anything else is stale and ignored. A
// snapshot page is applied only as the answer to the open question, which
// tells its position. So duplicated, reordered, late and lost pages are
// all harmless: applying a change twice changes nothing, and a gap is
// never applied over (only HQ's own answer to "after the cursor" may skip
// version numbers, which a change log with gaps in its numbering may do).
//
// # Snapshots
//
// HQ answers with a snapshot when the cursor is 0 (a new store), older
// than the oldest change HQ keeps, or ahead of HQ's head (HQ's data was
// replaced). The first page fixes the snapshot's version; Run then asks
// for the next pages by HQ's cursor. Every member and offer of the
// snapshot is marked with a generation of its own (store.Tx.PutMember),
// and the progress (snapshot id, version, generation, HQ's cursor) is
// saved in the transaction of each page's last change. After the last
// page, the sweep deletes, in short transactions, every member and offer
// without the generation, then the cursor becomes the snapshot's version
// and Run asks for the changes after it. Pages read after the first may
// show newer data; replaying the changes after the snapshot's version
// makes the whole exact, since every change is idempotent. A snapshot
// interrupted by a disconnect or a restart continues from the saved HQ
// cursor on the next Attach; a sweep interrupted by a restart is finished
// by Run before anything else. During a snapshot the cursor (Version)
// stays where it was, and the engine keeps serving from the data applied
// so far.
//
// # Transactions and the engine
//
// Changes are applied in short transactions, each moving the cursor to its
// last change, so the cursor is never ahead of the data and a crash loses
// nothing but work to redo. bbolt has a single writer, and the engine's
// outbox commits wait for it: the changes per transaction adapt so that a
// transaction holds the writer for at most TxHold beyond the fixed cost of
// a commit (its fsyncs), and the downlink pauses TxPause between two
// transactions, so that an outbox commit that queued meanwhile goes next
// and a new one usually finds the writer free. Reads (recognition) never
// wait for a writer (except while bbolt remaps a growing file).
// Member upserts go through the store, which keeps card UIDs and barcodes
// only as keyed pseudonyms; offer changes move store.OffersVersion, which
// makes the engine reload its offers. An offer whose segment matrix or
// holdout share is wrong (edge.Offer.ValidateTargeting: a depth key that is
// not one of the nine cells, a depth outside (0, 100], a holdout above 50 %)
// is skipped, counted and logged with the offer id and the key, like any
// change the store cannot apply; the offer it would have replaced stays.
//
// # Erasures
//
// An erasure (wire.ChangeMemberErase) removes the member and their card
// and barcode index entries, removes every not-yet-sent outbox event that
// names them (recognitions, exposures and withheld offers: outbox.Purge),
// and appends a member.erased event with HQ's request id and the number of
// events removed; the uplink sends it to HQ at the top priority. The deletion is
// recorded as pending in the transaction that deletes the member, and the
// pending record is dropped only after the purge and the acknowledgement,
// so a crash in between is finished by the next Run (the acknowledgement
// may then be sent twice; HQ keys it by request id).
//
// Erasures take effect before anything else the store learns with them:
// the erasures of a page are applied first, in their own transactions,
// before its other changes. That is the same as version order, because an
// erasure concerns only its member, and for that member every older upsert
// in the page is skipped while every newer one (a member who registered
// again) is applied after the erasure, as version order would. Across
// pages, order is kept: an erasure waits for the pages before it.
//
// After an outage, Attach waits (at most SyncWait) until the store has
// caught up before it returns, and the uplink drains the outbox only then,
// so events of a member erased while the store was offline are purged
// before they could leave.
//
// HQ rewrites the older upserts of an erased member into erasures without
// a request id ("scrubbed" changes), so its change log keeps no data of
// theirs; the store erases the member there already, purges, and does not
// acknowledge; the events removed are counted in the acknowledgement of
// the request that follows. A member swept by a snapshot (an erasure the
// store never saw as a change) is purged the same way, but not
// acknowledged: the store cannot know the request.
//
// What is not covered: an event already handed to the broker when the
// erasure arrives reaches HQ (HQ's own erasure covers its copy), and so
// do queued events when catching up takes longer than SyncWait (a large
// snapshot, or HQ not answering) and the uplink starts first; a
// recognition the engine resolved just before the member was deleted may
// be appended after the purge; and bbolt does not zero freed pages, so the
// erased data stays in the file until the pages are reused or the file is
// compacted.
//
// # Layout
//
// The downlink keeps its state in the store's database, bucket downlink:
//
//	tenant    → the tenant the cursor belongs to (another tenant resets it)
//	cursor    → 8-byte big-endian version applied
//	snapshot  → JSON progress of a snapshot in progress (absent: none)
//	pending/  <member id> 0x00 <request id> → "" ("s": swept by a snapshot)
//	carry/    <member id> → 8-byte count of events purged at scrubbed changes
//
// The bucket's sequence numbers the snapshot generations; the marks live
// in the store (store.Tx).
package downlink
