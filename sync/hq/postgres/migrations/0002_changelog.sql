-- The downlink change log (hq.ChangeLog): per tenant a head, the kept
-- changes and the current member and offer data they produced.

CREATE TABLE change_heads (
    tenant  text COLLATE "C" PRIMARY KEY,
    version bigint NOT NULL,       -- the latest change; 0 when there is none
    oldest  bigint NOT NULL,       -- the oldest change kept; 0 when there is none
    at      timestamptz NOT NULL   -- when the latest change was appended
);

CREATE TABLE changes (
    tenant  text COLLATE "C" NOT NULL,
    version bigint NOT NULL,
    kind    text NOT NULL,
    payload jsonb NOT NULL,        -- the wire.Change without its version
    member_id text COLLATE "C",    -- of a member change: to scrub an erased member's upserts
    at      timestamptz NOT NULL,
    PRIMARY KEY (tenant, version)
);

CREATE INDEX changes_member_upserts ON changes (tenant, member_id) WHERE kind = 'member.upsert';

CREATE TABLE members (
    tenant    text COLLATE "C" NOT NULL,
    member_id text COLLATE "C" NOT NULL,
    payload   jsonb NOT NULL,      -- the wire.MemberChange
    version   bigint NOT NULL,     -- the change that wrote it
    PRIMARY KEY (tenant, member_id)
);

CREATE TABLE offers (
    tenant   text COLLATE "C" NOT NULL,
    offer_id text COLLATE "C" NOT NULL,
    payload  jsonb NOT NULL,       -- the edge.Offer
    version  bigint NOT NULL,
    PRIMARY KEY (tenant, offer_id)
);
