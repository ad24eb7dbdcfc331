-- +goose Up
-- Per-address password limiting: a window of the distinct accounts that failed from an address, and a
-- pace (the theoretical arrival time of the generic cell rate algorithm, in Unix milliseconds) that each
-- new failing account pushes forward. Both replace the old per-address lockout counter.
CREATE TABLE throttle_accounts (
    key         TEXT NOT NULL,
    account     TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (key, account)
);
CREATE INDEX throttle_accounts_expires ON throttle_accounts (expires_at);

CREATE TABLE throttle_paces (
    key  TEXT PRIMARY KEY,
    tat  BIGINT NOT NULL
);
CREATE INDEX throttle_paces_tat ON throttle_paces (tat);

-- The old per-address counters locked whole offices out for hours; they are no longer read.
DELETE FROM throttles WHERE key LIKE 'pwd:ip:%';

-- +goose Down
DROP TABLE throttle_paces;
DROP TABLE throttle_accounts;
