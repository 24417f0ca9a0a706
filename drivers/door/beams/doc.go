// Package beams counts people crossing a door through two infrared
// beam-break sensors, and tells which way they went.
//
// # Installation
//
// Two beams cross the doorway at waist height, parallel, beam A on the
// street side and beam B on the store side, closer together than a body
// is deep (about 15 cm) so that a person walking through breaks both at
// once for a moment. Each sensor's output goes to a GPIO input (through an
// opto-isolator for 12–24 V industrial photo-eyes); Opts.BrokenLevel says
// whether it reads high (the default) or low while its beam is broken.
// Open both lines with edge detection on both edges, in one request so the
// kernel orders the two beams' edges:
//
//	src, err := gpiopair.OpenLineSet(beamA, beamB, gpio.PullUp, gpio.BothEdges)
//
// The pull suits open-collector outputs; use gpio.Float for push-pull ones.
// gpiopair.FromPins works too: beam edges are tens of milliseconds apart.
//
// # Debouncing
//
// A beam's level counts once it held Opts.Debounce (default 20 ms): a
// flicker shorter than that (a swinging bag strap, electrical noise) is
// ignored and counted as RejectGlitch. The counter runs Debounce behind
// the edges and applies each stable change at the time it began, so the
// order of the two beams' changes is the order in which they really
// changed.
//
// # Direction
//
// Write the beams' state as AB, 1 for broken: 00 is idle. A person walking
// in goes 00 → 10 → 11 → 01 → 00: A breaks first (A is the entry beam of
// the passage), both are broken, A clears, and B (the exit beam) clears
// last. That is one In; the mirror, 00 → 01 → 11 → 10 → 00, is one Out.
// The counter follows each passage through four phases:
//
//	idle      both clear                       a beam breaks: it is the entry beam → entered
//	entered   the entry beam broke             the exit beam breaks while the entry beam is still
//	                                           broken → spanning, or after it cleared but within
//	                                           MaxTransit of it breaking → leaving; the entry beam
//	                                           clears and MaxTransit passes → idle, nothing counted
//	spanning  both broken                      the entry beam clears → leaving; the exit beam
//	                                           clears (a step back) → entered
//	leaving   the exit beam broken, the        the exit beam clears → one crossing, → idle; the
//	          entry beam clear                 entry beam breaks again → someone follows (below)
//
// So:
//
//   - a U-turn counts nothing, from either side: 00 → 10 → 00, or
//     00 → 10 → 11 → 10 → 00 (into B and back out through A);
//   - two people in quick succession count two: when the second breaks A
//     while the first is still in B (… 01 → 11 → 10 …), the first is
//     counted as B clears and the passage continues as the second's;
//   - a passage with a gap between the beams (a child, or beams set wider
//     apart than the body: 00 → 10 → 00 → 01 → 00) counts when the exit
//     beam broke within Opts.MaxTransit (default 2 s) of the entry beam
//     breaking, and not otherwise: one beam and then the other broken more
//     than MaxTransit apart are two unrelated events. Lingering in the
//     entry beam before stepping on is not limited by MaxTransit.
//   - both beams changing the same way at the same instant (00 → 11 in one
//     step) leave the direction unknowable: that passage counts nothing
//     (RejectAmbiguous).
//
// # Obstruction
//
// A beam broken for Opts.ObstructedAfter (default 10 s) is obstructed: a
// display, a pallet, a sensor knocked out of alignment, or someone
// standing in the door. The counter sends an edge.KindDeviceStatus event,
// state edge.DeviceDegraded with a detail such as "beam A obstructed for
// 10s", once, and edge.DeviceUp ("beam A no longer obstructed") when the
// beams are clear of obstruction again. The passage in progress during an
// obstruction is not counted (RejectAmbiguous); counting resumes once both
// beams are clear.
//
// # Limitations
//
// Two beams see a door one body deep. People walking side by side, or
// close enough that A never clears between them, count as one, so groups
// are undercounted; accuracy is high only for single-file traffic through
// entrances about 1 m wide. Someone who walks fully into B, steps back
// into A and leaves cannot be told from a second person following the
// first, and counts one In. Someone coming in through a door while someone
// else goes out is counted only when they pass one after the other. A
// person standing still in a beam counts nothing until they move on, and
// after ObstructedAfter their passage is lost. Overhead 3D or thermal
// counters do better; these are what a store can wire in an afternoon.
// Sources: retail-sensing and vendor material on beam counters (groups
// undercounted, people moving back and forth overcounted).
package beams
