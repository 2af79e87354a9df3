-- Roadcall schema v3: idempotent incident creation.
--
-- A key is scoped to the driver who sent it: two drivers may use the same key. The row is
-- written in the transaction that creates the incident, so a concurrent duplicate waits on
-- the primary key until that transaction ends and then reads the stored answer.
CREATE TABLE incident_idempotency_keys (
    driver_id    text NOT NULL CHECK (length(driver_id) BETWEEN 1 AND 64),
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash text NOT NULL CHECK (length(request_hash) BETWEEN 1 AND 128),
    -- Deferred: the key is claimed before the incident it will name is inserted.
    incident_id  text NOT NULL REFERENCES incidents (id) DEFERRABLE INITIALLY DEFERRED,
    response     jsonb NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (driver_id, key)
);

-- Pruning deletes by age.
CREATE INDEX incident_idempotency_keys_created_idx ON incident_idempotency_keys (created_at);
