// Package sim simulates a store's trading days: door counters, RFID readers
// and barcode scanners fed by simulated shoppers. It sends the engine the
// same edge.Event values the real drivers would — edge.Crossing from
// sim_door devices, edge.CardRead from sim_rfid devices, edge.Scan (EAN-13,
// symbology "]E0", class loyalty or list) from sim_scanner devices — with
// Event.Source set to the simulated device's name and Event.Time to
// simulated time. It also generates the demo's member base (Members) and
// offers (Offers).
//
// # Model
//
// Each trading day, shoppers arrive from opening until 15 minutes before
// closing. Their number is Opts.ArrivalsPerDay for a day open 08:00 to 20:00
// and follows a time-of-day curve: a slow start after opening, a
// mid-morning bump, a lunch peak around 12:30 and the day's peak around
// 17:45 (days with other hours get the part of the curve they cover). A
// shopper's visit:
//
//   - comes in through a door (the first sim_door listed is the busiest):
//     an In crossing. A few turn back within seconds (Behaviour.UTurn);
//   - is a member with probability Behaviour.MemberShare, drawn among
//     Opts.Members by visit frequency (heavy shoppers often, churned members
//     rarely), never twice in the store at once;
//   - as a member, may tap their card a few seconds later at the entrance:
//     a sim_rfid at that door, else in zone "entrance", else in the first
//     zone with a reader (Behaviour.EntranceTap);
//   - visits one to three zones with readers, a member tapping at each with
//     probability Behaviour.ZoneTap;
//   - buys with probability Behaviour.Conversion, at a lane with a
//     simulated scanner or reader, where a member identifies
//     (Behaviour.CheckoutID) by tapping the card at the lane's reader
//     (Behaviour.LaneTap when the lane has both) or by scanning the loyalty
//     barcode, and may scan the shopping-list barcode (Behaviour.ListScan);
//   - leaves through the door they came in by after a dwell time of
//     4 to 45 minutes by default: an Out crossing.
//
// Non-members make no event besides their crossings. A few taps
// (Behaviour.UnknownCard) are made with a card no member holds. Every
// shopper who comes in leaves, at the latest DwellMax after the last
// arrival, so each door's In and Out balance over a day.
//
// # Determinism
//
// The event sequence is a function of the options: the same Opts (Seed,
// Start, Days, Location, Hours, Devices, Members, ArrivalsPerDay,
// Behaviour) give the same events in the same order, on every platform
// and Go version that keeps math/rand/v2's PCG and its derived
// distributions. Each day draws from its own PCG stream keyed by the seed
// and the date, so a day's shoppers do not depend on the days before it
// or on Start: a simulation starting at 14:00 has exactly the shoppers of
// the full day who arrive from 14:00 on. A zero Start is resolved from the
// real clock (today's opening), so set Start for a reproducible run.
// Members and Offers are deterministic in their arguments.
//
// Pacing is separate from the plan: a Plan yields the events in
// simulated-time order without waiting; a Sim sends them when its Clock
// reaches their times. The Clock runs Opts.Speed simulated seconds per
// real second from Start; the engine uses Clock.Now as its clock, so
// counting intervals and offer validity follow simulated time too. A
// receiver that falls behind delays events; none are dropped or reordered.
//
// # Identifiers
//
// Loyalty barcodes are EAN-13 restricted circulation numbers 041nnnnnnnnnc
// and shopping-list barcodes 049nnnnnnnnnc, c being the GS1 mod-10 check
// digit. Card UIDs are 7-byte NXP UIDs (first byte 0x04) for most members
// and 4-byte MIFARE Classic UIDs for the others.
package sim
