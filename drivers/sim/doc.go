// Package sim simulates a store's trading days: door counters, RFID readers
// and barcode scanners fed by simulated shoppers. It sends the engine the
// same edge.Event values the real drivers would — edge.Crossing from
// sim_door devices, edge.CardRead from sim_rfid devices, edge.Scan (EAN-13,
// symbology "]E0", class loyalty or list) from sim_scanner devices — with
// Event.Source set to the simulated device's name and Event.Time to
// simulated time. Baskets paid at the tills, which no device reports, are
// Checkout values for the caller's till. It also generates the demo's member
// base (Members, with segment-matrix cells), staff (Staff) and offers
// (Offers).
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
//     rarely), never staff, never twice in the store at once;
//   - as a member, may tap their card at the door's reader just after
//     coming in (Behaviour.DoorTap, when the door has a sim_rfid), and a few
//     seconds later at the entrance: a sim_rfid in zone "entrance", else in
//     the first zone with a reader, else at the door (Behaviour.EntranceTap);
//   - visits one to three zones with readers, a member tapping at each with
//     probability Behaviour.ZoneTap;
//   - buys with a probability that follows the time of day around
//     Behaviour.Conversion (from about 48% of shoppers in mid-afternoon to
//     74% early and late, with the defaults): a basket drawn by Lines from
//     the member's categories and brand loyalties, or the store's for
//     anyone else. The buyer queues at the lane free soonest (a lane is a
//     lane id with a simulated scanner or reader), is served for 15 to 35
//     seconds plus 2.5 to 4 seconds a unit, and pays: a Checkout, which
//     Sim.Run hands to Opts.Till. A member identifies (Behaviour.CheckoutID)
//     by tapping the card at the lane's reader (Behaviour.LaneTap when the
//     lane has both) or by scanning the loyalty barcode, and may scan the
//     shopping-list barcode (Behaviour.ListScan); everyone else pays
//     anonymously. A buyer who would queue more than ten minutes leaves
//     without buying;
//   - leaves through the door they came in by after a dwell time of 4 to
//     45 minutes by default, or 20 to 90 seconds after paying if that is
//     later, a member maybe tapping at the door's reader just before
//     (Behaviour.DoorTap again): an Out crossing.
//
// Non-members make no device event besides their crossings. A few taps
// (Behaviour.UnknownCard) are made with a card no member holds; a member
// whose card is unknown at the lane pays anonymously. Every shopper who
// comes in leaves, so each door's In and Out balance over a day.
//
// Members flagged Staff work shifts around the opening hours and cross the
// staff door, the first door with a sim_rfid, at the start and end of their
// shift and around their breaks, badging at its reader one to three
// seconds before each crossing; no other crossing of that door comes near.
// See Staff for the schedule. Without a reader at a door, staff make no
// events.
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
// Staff shifts draw from a stream of their own, so the shoppers are the
// same with or without staff. Members, Staff, Lines and Offers are
// deterministic in their arguments.
//
// Pacing is separate from the plan: a Plan yields the events in
// simulated-time order without waiting; a Sim sends them, and hands the
// checkouts to the till, when its Clock reaches their times. The Clock runs Opts.Speed simulated seconds per
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
