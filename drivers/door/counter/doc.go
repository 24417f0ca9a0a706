// Package counter receives the pushes of commercial people counters
// (Irisys Vector, Xovis PC series and the like) over HTTP and turns their
// cumulative registers into edge.Crossing events.
//
// Such a counter keeps one cumulative register per counting line and
// direction, and every logging period (Irisys: 15 minutes by default, 1
// minute at least) pushes the registers' current values to a URL. The
// gateway subtracts the previous values and reports the difference as people
// who came in or went out. Because the values are cumulative, a push that is
// lost, refused or ignored loses nobody: the next accepted push carries those
// people in its difference.
//
// # Endpoint
//
//	POST /api/v1/counters/{counter_id}
//	Authorization: Bearer <token>
//	Content-Type: application/json
//
// {counter_id} is the device's counter_id in the configuration; the token is
// the content of its token_file. The token may also be sent the way counters
// without a "Bearer" option send it: as the whole Authorization header
// (Irisys "Authorization Token"), in an Authentication header (Irisys
// "Authentication Token"), or as the password of HTTP Basic authentication
// (any user name). Tokens are compared in constant time.
//
// # Body
//
// One sample, a JSON object:
//
//	{
//	  "time": "2026-11-22T10:15:00Z",
//	  "registers": [
//	    {"name": "in",  "value": 1234},
//	    {"name": "out", "value": 1200}
//	  ]
//	}
//
// or the same registers as an object:
//
//	{"time": "2026-11-22T10:15:00Z", "registers": {"in": 1234, "out": 1200}}
//
// or several samples at once, for a counter that sends what it logged while
// the gateway was unreachable (in any order: they are applied oldest first):
//
//	{"samples": [
//	  {"time": "2026-11-22T10:00:00Z", "registers": {"in": 1230, "out": 1190}},
//	  {"time": "2026-11-22T10:15:00Z", "registers": {"in": 1234, "out": 1200}}
//	]}
//
// Fields:
//
//	time       when the counter read the registers: an RFC 3339 string with a
//	           zone ("Z" or an offset such as "+01:00"), or a number of Unix
//	           seconds (milliseconds if above 100 000 000 000). Optional: the
//	           gateway's receive time is used when it is missing, null or "".
//	registers  the registers: an array of {"name", "value"} objects or an
//	           object of name → value. Values are non-negative integers, as
//	           JSON numbers or decimal strings ("1234"). Registers other than
//	           the device's in_register and out_register (default "in" and
//	           "out") are ignored, so a counter may send all its lines;
//	           names are matched ignoring case and surrounding spaces. Each
//	           sample must carry at least one of the two.
//	samples    an array of samples, instead of time and registers.
//
// Field names are matched ignoring case and unknown fields are ignored, so
// the Irisys Vector HTTP POST body is accepted as it is sent: "CountLogs" is
// read as samples, "Timestamp" as time and "Counts" as registers, each count
// being {"Name", "RegisterId", "Value"} (set in_register and out_register to
// the names of the Vector's in and out registers, e.g. "Line 1" and
// "Line 2"):
//
//	{"CountLogs": [{"Counts": [{"Name": "Line 1", "RegisterId": 0, "Value": 4829},
//	                           {"Name": "Line 2", "RegisterId": 1, "Value": 4801}],
//	                "LogEntryId": 81235, "Timestamp": "2026-11-22T10:15:00Z"}],
//	 "FriendlyDeviceSerial": "V4D-20110042"}
//
// A body is at most Opts.MaxBody bytes (64 KiB by default).
//
// # Replies
//
// Every reply is JSON. Success is 200 with what the push did:
//
//	{"counter_id": "V4D-17020025", "samples": 1, "in": 6, "out": 3}
//	{"counter_id": "V4D-17020025", "samples": 1, "in": 0, "out": 0,
//	 "notes": ["in: baseline 1234", "out: baseline 1200"]}
//
// (see Ack). Failures are {"error": "<reason>"} with:
//
//	400  the body is not valid: malformed JSON, no registers, no in or out
//	     register, a value that is not a non-negative integer, a time
//	     without a zone, a time before 2020 (a clock that was never set) or
//	     ahead of the gateway's clock by more than Opts.MaxClockSkew. Nothing
//	     of the push is applied.
//	401  no token, or a wrong one
//	404  no counter with that counter_id
//	405  a method other than POST
//	413  a body larger than Opts.MaxBody
//	503  the gateway could not queue the crossings (shutting down); send
//	     again. Crossings queued before the failure are kept, and the
//	     baseline only moves past what was queued, so a repeat counts
//	     nobody twice.
//
// # From values to crossings
//
// Per counter and register, with v the pushed value and b the baseline (the
// value last accepted):
//
//   - no baseline yet (first push since the gateway was installed, or a
//     register the counter never sent before): v becomes the baseline;
//     nothing is counted.
//   - v == b: nothing happened; nothing is counted (a repeated push).
//   - v > b: v-b people crossed; an edge.Crossing of that count is sent.
//   - v < b: the counter restarted from zero (power loss, "reset counts"):
//     v people crossed since the restart. The reset is counted
//     (Status.Resets) and logged.
//   - a difference above Opts.MaxDelta (10 000 by default) is not counted
//     but rejected (reject reason "jump"): ten thousand people between two
//     pushes is more likely a bug, a swapped device or a corrupted register
//     than a crowd. v becomes the new baseline, so counting resumes with the
//     next push; the people of that one period are lost.
//
// A sample whose time is before the time of the last accepted sample is
// ignored (reject reason "stale"): it is a late retry of data already
// counted. A sample at the same time is applied (a repeated push then counts
// nothing). Every count becomes one edge.Event of kind edge.KindDoorCrossing
// with Source the device's name, Time the sample's time (or the receive
// time) and Crossing {Dir: edge.In or edge.Out, Count: difference}; zero
// differences send nothing. The engine adds a crossing to the counting
// interval open when it handles it, so a difference that spans an interval
// boundary lands entirely in the later interval.
//
// # Baselines and restarts
//
// The baselines survive a daemon restart through Baselines, which the
// integrator implements on the gateway database. NewHandler loads each
// counter's baseline; after a push that changed it, the handler first queues
// the crossings (send) and then saves the new baseline. The order decides
// what a crash can do:
//
//   - a crash after the crossings were queued and before the baseline was
//     saved counts those people again after the restart (the old baseline
//     comes back), if the engine had already recorded them;
//   - crossings queued but not yet handled by the engine when the process
//     dies are lost with the engine's in-memory queue, whatever this
//     package does.
//
// The window of the first case is one database write. A failed save is
// logged; the handler keeps the new baseline in memory and saves again after
// the next push that changes it.
//
// # Health
//
// Meter(name) counts each counter's crossings (Accept, one per event) and
// rejects by reason: "auth" (401), "framing" (400 for malformed JSON, and
// 413), "format" (400 for an empty or unusable body, including a time that
// cannot be read), "clock" (400 for a time before 2020 or too far ahead),
// "stale" and "jump" (200: the push was answered, the sample or register
// ignored). Unknown counter ids (404) are logged, not counted. Status(name) gives the time of the last good push: a counter
// that pushes every 15 minutes and was not heard from for, say, three
// periods can be reported down by the integrator.
package counter
