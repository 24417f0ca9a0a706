-- Events: one table per kind, a generic table for kinds this build does
-- not know, the per-epoch sequence coverage and per-store counters.
-- Identifiers use the "C" collation: byte order, like the embedded sink,
-- and cheaper comparisons in the primary keys.

-- Common columns of every event table:
--   tenant, store, event_id   the deduplication key (CloudEvents source, id)
--   time                      the event's CloudEvents time (NULL when absent)
--   data                      the event's data as received (JSONB)
--   received_at               when HQ stored it (transaction start)

CREATE TABLE footfall_intervals (
    tenant         text COLLATE "C" NOT NULL,
    store          text COLLATE "C" NOT NULL,
    event_id       text COLLATE "C" NOT NULL,
    time           timestamptz,
    door           text NOT NULL,
    interval_start timestamptz,
    interval_end   timestamptz,
    people_in      integer NOT NULL,
    people_out     integer NOT NULL,
    occupancy      integer NOT NULL,
    data           jsonb NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, store, event_id)
);

CREATE TABLE recognitions (
    tenant      text COLLATE "C" NOT NULL,
    store       text COLLATE "C" NOT NULL,
    event_id    text COLLATE "C" NOT NULL,
    time        timestamptz,
    member_id   text NOT NULL,
    via         text NOT NULL,
    zone        text NOT NULL,
    lane        text NOT NULL,
    door        text NOT NULL,
    new_visit   boolean NOT NULL,
    data        jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, store, event_id)
);

-- A visit is a member's first recognition of a visit.
CREATE VIEW visits AS
    SELECT tenant, store, event_id, time, member_id, via, zone, lane, door
    FROM recognitions WHERE new_visit;

CREATE TABLE exposures (
    tenant      text COLLATE "C" NOT NULL,
    store       text COLLATE "C" NOT NULL,
    event_id    text COLLATE "C" NOT NULL,
    time        timestamptz,
    offer_id    text NOT NULL,
    member_id   text NOT NULL,
    channel     text NOT NULL,
    screen      text NOT NULL,
    rank        integer NOT NULL,
    data        jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, store, event_id)
);

CREATE TABLE redemptions (
    tenant      text COLLATE "C" NOT NULL,
    store       text COLLATE "C" NOT NULL,
    event_id    text COLLATE "C" NOT NULL,
    time        timestamptz,
    offer_id    text NOT NULL,
    member_id   text NOT NULL,
    lane        text NOT NULL,
    basket_id   text NOT NULL,
    discount    numeric,
    data        jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, store, event_id)
);

CREATE TABLE baskets (
    tenant      text COLLATE "C" NOT NULL,
    store       text COLLATE "C" NOT NULL,
    event_id    text COLLATE "C" NOT NULL,
    time        timestamptz,
    basket_id   text NOT NULL,
    lane        text NOT NULL,
    member_id   text,
    total       numeric,
    items       integer,
    currency    text NOT NULL,
    data        jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, store, event_id)
);

CREATE TABLE device_status (
    tenant      text COLLATE "C" NOT NULL,
    store       text COLLATE "C" NOT NULL,
    event_id    text COLLATE "C" NOT NULL,
    time        timestamptz,
    device      text NOT NULL,
    device_kind text NOT NULL,
    state       text NOT NULL,
    detail      text NOT NULL,
    data        jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, store, event_id)
);

CREATE TABLE erasures_applied (
    tenant         text COLLATE "C" NOT NULL,
    store          text COLLATE "C" NOT NULL,
    event_id       text COLLATE "C" NOT NULL,
    time           timestamptz,
    member_id      text NOT NULL,
    request_id     text NOT NULL,
    events_removed integer NOT NULL,
    data           jsonb NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, store, event_id)
);

-- Kinds this build does not know, kept so that nothing is lost.
CREATE TABLE other_events (
    tenant      text COLLATE "C" NOT NULL,
    store       text COLLATE "C" NOT NULL,
    event_id    text COLLATE "C" NOT NULL,
    kind        text COLLATE "C" NOT NULL,
    time        timestamptz,
    data        jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, store, event_id)
);

-- Held sequence numbers of each epoch, as maximal ranges lo..hi: ranges of
-- one epoch never overlap or touch. Maintained in the transaction that
-- stores the events, under a transaction advisory lock per epoch.
CREATE TABLE sequence_ranges (
    tenant text COLLATE "C" NOT NULL,
    store  text COLLATE "C" NOT NULL,
    epoch  text COLLATE "C" NOT NULL,
    lo     bigint NOT NULL,
    hi     bigint NOT NULL,
    PRIMARY KEY (tenant, store, epoch, lo),
    UNIQUE (tenant, store, epoch, hi),
    CHECK (1 <= lo AND lo <= hi)
);

-- Per epoch: sequence numbers held, the highest, the watermark (every
-- sequence number in 1..watermark is held) and the number missing below
-- the highest (BoltSink.Coverage).
CREATE VIEW sequence_coverage AS
    SELECT tenant, store, epoch,
           sum(hi - lo + 1)::bigint                      AS count,
           max(hi)                                       AS max_seq,
           coalesce(max(hi) FILTER (WHERE lo = 1), 0)    AS watermark,
           (max(hi) - sum(hi - lo + 1))::bigint          AS gaps
    FROM sequence_ranges
    GROUP BY tenant, store, epoch;

-- Missing ranges: sequence numbers first_missing..last_missing of an epoch
-- are not held although a higher one is.
CREATE VIEW sequence_gaps AS
    SELECT tenant, store, epoch, first_missing, last_missing,
           last_missing - first_missing + 1 AS missing
    FROM (SELECT tenant, store, epoch,
                 coalesce(lag(hi) OVER w, 0) + 1 AS first_missing,
                 lo - 1                          AS last_missing
          FROM sequence_ranges
          WINDOW w AS (PARTITION BY tenant, store, epoch ORDER BY lo)) g
    WHERE first_missing <= last_missing;

-- The deduplication index of ids that are not "<epoch>-<seq>" (sequenced
-- ids are deduplicated against sequence_ranges, whatever their kind).
CREATE TABLE unsequenced_ids (
    tenant   text COLLATE "C" NOT NULL,
    store    text COLLATE "C" NOT NULL,
    event_id text COLLATE "C" NOT NULL,
    kind     text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, store, event_id)
);

-- Counters per store and kind (BoltSink.Stats): events stored, duplicates
-- dropped, stored events with unsequenced ids.
CREATE TABLE store_counts (
    tenant      text COLLATE "C" NOT NULL,
    store       text COLLATE "C" NOT NULL,
    kind        text COLLATE "C" NOT NULL,
    events      bigint NOT NULL DEFAULT 0,
    duplicates  bigint NOT NULL DEFAULT 0,
    unsequenced bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, store, kind)
);
