-- Retail intelligence: store traffic per interval and per trading day,
-- members' visits, offers withheld from holdout members; the staff share of
-- door counts and the depth and cell of exposures; indexes for scanning
-- events by time (the report). Columns as in 0001: tenant, store, event_id,
-- time, the typed payload fields, data, received_at.
--
-- Events of these kinds that an older build kept in other_events (a store
-- upgraded before HQ) are moved into their tables by Go code in the same
-- transaction (retype in db.go): it decodes them as the sink does.

CREATE TABLE traffic_intervals (
    tenant          text COLLATE "C" NOT NULL,
    store           text COLLATE "C" NOT NULL,
    event_id        text COLLATE "C" NOT NULL,
    time            timestamptz,
    interval_start  timestamptz,
    interval_end    timestamptz,
    trading_day     date,              -- the trading day the interval belongs to
    people_in       integer NOT NULL,  -- every entry, staff included
    people_out      integer NOT NULL,
    staff_in        integer NOT NULL,
    staff_out       integer NOT NULL,
    visitors        integer NOT NULL,  -- people_in - staff_in
    occupancy       integer NOT NULL,  -- visitors inside at interval_end
    peak            integer NOT NULL,  -- most visitors inside during the interval
    clamped         integer NOT NULL,  -- exits that found the store empty
    reset           integer,           -- occupancy cleared by the closing reset; NULL: none in this interval
    member_visits   integer NOT NULL,
    baskets         integer NOT NULL,
    member_baskets  integer NOT NULL,
    spend           numeric,
    member_spend    numeric,
    currency        text NOT NULL,
    offers_shown    integer NOT NULL,
    offers_redeemed integer NOT NULL,
    offers_withheld integer NOT NULL,
    data            jsonb NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, store, event_id)
);
CREATE INDEX traffic_intervals_day ON traffic_intervals (tenant, store, trading_day);

-- One row per closed trading day; the per-door counts (doors) and per-zone
-- dwell (zones) stay in data.
CREATE TABLE traffic_days (
    tenant          text COLLATE "C" NOT NULL,
    store           text COLLATE "C" NOT NULL,
    event_id        text COLLATE "C" NOT NULL,
    time            timestamptz,
    trading_day     date,
    day_start       timestamptz,
    day_end         timestamptz,
    people_in       integer NOT NULL,
    people_out      integer NOT NULL,
    staff_in        integer NOT NULL,
    staff_out       integer NOT NULL,
    visitors        integer NOT NULL,
    peak            integer NOT NULL,
    peak_at         timestamptz,
    mismatch        integer NOT NULL,  -- occupancy the closing reset cleared
    clamped         integer NOT NULL,
    dwell_s         integer NOT NULL,  -- mean visitor dwell (Little's law), seconds
    members         integer NOT NULL,  -- distinct members who visited
    member_visits   integer NOT NULL,
    member_dwell_s  integer NOT NULL,
    baskets         integer NOT NULL,
    member_baskets  integer NOT NULL,
    spend           numeric,
    member_spend    numeric,
    currency        text NOT NULL,
    offers_shown    integer NOT NULL,
    offers_redeemed integer NOT NULL,
    offers_withheld integer NOT NULL,
    data            jsonb NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, store, event_id)
);
CREATE INDEX traffic_days_day ON traffic_days (tenant, store, trading_day);

-- A member's closed visit (visit.closed); the zones and lanes stay in data.
-- Not to be confused with the view visits (first recognitions).
CREATE TABLE member_visits (
    tenant      text COLLATE "C" NOT NULL,
    store       text COLLATE "C" NOT NULL,
    event_id    text COLLATE "C" NOT NULL,
    time        timestamptz,
    member_id   text NOT NULL,
    visit_start timestamptz,
    visit_end   timestamptz,
    dwell_s     integer NOT NULL,
    entry_door  text NOT NULL,
    exit_door   text NOT NULL,
    baskets     integer NOT NULL,
    spend       numeric,
    ended       text NOT NULL,     -- door or gap
    data        jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, store, event_id)
);
CREATE INDEX member_visits_time ON member_visits (tenant, store, time);

-- Exposures gained the depth offered and the member's segment-matrix cell.
ALTER TABLE exposures ADD COLUMN discount_pct numeric, ADD COLUMN cell text NOT NULL DEFAULT '';
UPDATE exposures SET
    discount_pct = CASE WHEN jsonb_typeof(data->'discount_pct') = 'number' THEN (data->'discount_pct')::numeric END,
    cell = CASE WHEN jsonb_typeof(data->'cell') = 'string' THEN data->>'cell' ELSE '' END
WHERE data ? 'discount_pct' OR data ? 'cell';
CREATE INDEX exposures_time ON exposures (tenant, store, time);

-- An offer a holdout member would have been shown (offer.withheld): the
-- columns of exposures.
CREATE TABLE withheld_offers (
    tenant       text COLLATE "C" NOT NULL,
    store        text COLLATE "C" NOT NULL,
    event_id     text COLLATE "C" NOT NULL,
    time         timestamptz,
    offer_id     text NOT NULL,
    member_id    text NOT NULL,
    channel      text NOT NULL,
    screen       text NOT NULL,
    rank         integer NOT NULL,
    discount_pct numeric,
    cell         text NOT NULL,
    data         jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, store, event_id)
);
CREATE INDEX withheld_offers_time ON withheld_offers (tenant, store, time);

-- Door counts gained the crossings attributed to staff.
ALTER TABLE footfall_intervals ADD COLUMN staff_in integer NOT NULL DEFAULT 0,
    ADD COLUMN staff_out integer NOT NULL DEFAULT 0;
UPDATE footfall_intervals SET
    staff_in = CASE WHEN jsonb_typeof(data->'staff_in') = 'number' AND data->>'staff_in' ~ '^[0-9]{1,9}$'
        THEN (data->>'staff_in')::integer ELSE 0 END,
    staff_out = CASE WHEN jsonb_typeof(data->'staff_out') = 'number' AND data->>'staff_out' ~ '^[0-9]{1,9}$'
        THEN (data->>'staff_out')::integer ELSE 0 END
WHERE data ? 'staff_in' OR data ? 'staff_out';

-- Scanning by time (the report reads baskets and redemptions of a period).
CREATE INDEX redemptions_time ON redemptions (tenant, store, time);
CREATE INDEX baskets_time ON baskets (tenant, store, time);
CREATE INDEX other_events_kind_time ON other_events (tenant, store, kind, time);
