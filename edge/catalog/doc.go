// Package catalog reads the member and offer files that `redcarpet members
// import` and `redcarpet offers import` load into the gateway's store. It
// only parses and checks: it never touches the database.
//
// Files are streamed, one record at a time, so a file of a million members
// needs no more memory than one line plus about 20 bytes per identifier
// (member id, card, barcode) kept to detect repeats. A bad line is
// reported with its line number and the field at fault, and skipped; the
// rest of the file is read.
//
// # Formats
//
// Two formats, with the same field names:
//
//   - CSV (RFC 4180): comma-separated, UTF-8 (a byte-order mark is
//     ignored), the first line a header naming the columns, in any order and
//     any case. Columns may be left out, except the required ones; an
//     unknown column stops the import. A field holding a comma, a quote or a
//     new line is quoted ("…", a quote doubled inside). Lists inside a field
//     are separated by ';'.
//   - JSON Lines (.jsonl, .ndjson): one JSON object per line, UTF-8. Lists
//     are arrays; affinity, cycles and matrix are objects; numbers are JSON numbers
//     and identifiers (barcodes, card UIDs) are strings. An unknown field
//     makes the line bad (field names are matched as encoding/json does,
//     ignoring case). Blank lines are ignored.
//
// Leading and trailing spaces of every value are ignored. An empty value
// (or a field left out) means "not set". DetectFormat picks the format from
// the file name (.csv; .jsonl, .ndjson, .json) or else from the first byte.
//
// # Members
//
//	column           required  CSV                                  JSON
//	id               yes       M-000123                             "M-000123"
//	first_name                 Anna                                 "Anna"
//	tier                       gold                                 "gold"
//	segment                    young-families                       "young-families"
//	stage                      new|active|lapsing|churned           "active"
//	greet_by_name              true|false|yes|no|1|0 (empty: false) true
//	staff                      true|false|yes|no|1|0 (empty: false) false
//	affinity                   dairy=0.4;bakery=0.25                {"dairy":0.4,"bakery":0.25}
//	cycles                     dairy=6.5@2026-11-10#12;wine=14@2026-10-30
//	                                                                {"dairy":{"mean_days":6.5,"last":"2026-11-10","count":12}}
//	matrix                     dairy=switcher/heavy;bakery=store/light
//	                                                                {"dairy":"switcher/heavy","bakery":"store/light"}
//	cards                      04:A2:2B:1C;04-11-22-33-44-55-66     ["04:A2:2B:1C","04112233445566"]
//	loyalty_barcode            2900000123458                        "2900000123458"
//	list_barcode               L-88412                              "L-88412"
//
// Rules:
//
//   - id: 1 to 64 bytes, no white space or control characters; unique in
//     the file (a later line with the same id is bad).
//   - first_name, tier, segment: at most 64 bytes, no control characters.
//     first_name may be shown on screens only when greet_by_name is true.
//   - stage: one of new, active, lapsing, churned (any case), or empty.
//   - staff: marks a store employee's card (values as for greet_by_name):
//     at a door it marks the next crossing as staff; it never opens a
//     visit or gets an offer.
//   - affinity: category=share pairs, share from 0 to 1 (the member's share
//     of spend in that category), each category once. Decimal point is '.'.
//   - cycles: category=MEAN_DAYS@LAST[#COUNT]: the usual days between
//     purchases in the category (above 0, at most 3650), the date of the
//     last purchase (a date YYYY-MM-DD, local midnight in the store's time
//     zone, or an RFC 3339 time) and optionally the number of purchases the
//     mean is based on (a whole number ≥ 0). In JSON: an object per
//     category with mean_days (required), last (required) and count.
//   - matrix: category=cell pairs, the member's segment-matrix cell in the
//     category as HQ computed it: brand loyalty (national, store, switcher)
//     '/' usage (light, medium, heavy), any case, lower-cased when read;
//     each category once. In JSON: an object of strings. It picks the
//     member's discount in offers with a depth (see Offers).
//   - cards: card ids in hex, 3 to 10 bytes, optionally with ':', '-' or
//     ' ' between digits, in the form the store's readers produce (ISO
//     14443 UIDs as read; EM4100 tag ids and Wiegand 34 as 4 bytes; Wiegand
//     26 as facility and card number, 3 bytes: see package drivers/rfid); several separated by ';' (a JSON array of
//     strings). At most 32 per member; a card repeated within the line
//     counts once. A card on an earlier good line of the file makes the
//     line bad.
//   - loyalty_barcode, list_barcode: printable ASCII without spaces, at most
//     128 characters. 13 digits must carry a valid EAN-13 check digit. The
//     two must differ, and a barcode on an earlier good line of the file
//     makes the line bad.
//
// Card UIDs, barcodes and first names identify people: no message of this
// package quotes them ("cards: card 2 is not hex").
//
// # Offers
//
//	column           required  CSV                                  JSON
//	id               yes       OF-2026-11-DAIRY                     "OF-2026-11-DAIRY"
//	title            yes       Butter -20 %                         "Butter -20 %"
//	body                       Normandy butter, 250 g               "Normandy butter, 250 g"
//	channels         yes       signage;checkout                     ["signage","checkout"]
//	segments                   young-families;students              ["young-families","students"]
//	stages                     active;lapsing                       ["active","lapsing"]
//	categories                 dairy                                ["dairy"]
//	valid_from       yes       2026-11-01                           "2026-11-01T08:00:00+01:00"
//	valid_to         yes       2026-11-30                           "2026-11-30"
//	discount_pct               20  (or 20%)                         20
//	cap_per_member             1                                    1
//	depth                      switcher/heavy=30;store/heavy=10     {"switcher/heavy":30,"store/heavy":10}
//	holdout_pct                10  (or 10%)                         10
//
// Rules:
//
//   - id: as for members; unique in the file.
//   - title: at most 200 bytes, single line. body: at most 2000 bytes; new
//     lines and tabs allowed.
//   - channels: signage, checkout or both (any case).
//   - segments, categories: names of at most 64 bytes. stages: as for
//     members. Empty lists mean every segment, every stage, no category.
//   - valid_from, valid_to: an RFC 3339 time, or a date YYYY-MM-DD in the
//     store's time zone: valid_from 2026-11-01 starts at local midnight on
//     1 November; valid_to 2026-11-30 ends at the END of 30 November (the
//     next local midnight). The offer is shown in [valid_from, valid_to);
//     valid_to must be after valid_from. Years 1970 to 2999.
//   - discount_pct: 0 to 100 (decimals allowed). cap_per_member: redemptions
//     per member, a whole number ≥ 0; 0 or empty means no limit.
//   - depth: the offer's segment matrix, the discount in percent per cell
//     of brand loyalty (national, store, switcher) by usage (light, medium,
//     heavy), as cell=percent items separated by ';' (a JSON object). Each
//     depth is above 0 and at most 100 (a % sign is allowed); a cell is
//     given once; cells are lower-cased. An offer with a depth needs
//     categories: a member's cell is the one in the offer's category they
//     are most relevant in, and a member whose cell has no depth is not
//     offered it. Empty: discount_pct for every member.
//   - holdout_pct: the share of members, 0 to 50 percent, who are never
//     shown the offer, so HQ can measure its lift (see edge.InHoldout).
//
// # Errors
//
// A bad line is reported as a LineError ("line 12: tier: contains a control
// character") and skipped. What stops a read: unreadable input, a CSV
// header with an unknown, unnamed or repeated column or without a required
// one (ErrHeader), a CSV record longer than MaxLineBytes, which is almost
// always a quoted field never closed (ErrLineTooLong), and an error
// returned by the caller's yield function.
package catalog
