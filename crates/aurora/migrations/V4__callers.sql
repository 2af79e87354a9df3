-- Roadcall schema v4: callers. Every incident and payment belongs to the authenticated
-- caller who created it (a JWT `sub`, an IAM ARN), and idempotency keys are scoped to the
-- caller, so one caller can neither read nor replay another's.
--
-- Rows from before this migration have no caller (NULL): an incident then belongs to its
-- driver (the only identity there was) and a payment to its incident's owner. Nothing is
-- rewritten, so the migration is quick on a large table.
ALTER TABLE incidents ADD COLUMN caller text NULL
    CONSTRAINT incidents_caller_length CHECK (length(caller) BETWEEN 1 AND 256);
ALTER TABLE payments ADD COLUMN caller text NULL
    CONSTRAINT payments_caller_length CHECK (length(caller) BETWEEN 1 AND 256);

-- Keys live for a day (pruned), so the few stored before this migration are re-scoped in
-- place: a payment key to its payment's owner, an incident key to its driver.
ALTER TABLE idempotency_keys ADD COLUMN caller text NOT NULL DEFAULT ''
    CONSTRAINT idempotency_keys_caller_length CHECK (length(caller) <= 256);
UPDATE idempotency_keys k SET caller = COALESCE(p.caller, i.caller, i.driver_id)
    FROM payments p JOIN incidents i ON i.id = p.incident_id
    WHERE p.id = k.payment_id;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey,
    ADD PRIMARY KEY (caller, key);

ALTER TABLE incident_idempotency_keys ADD COLUMN caller text NOT NULL DEFAULT ''
    CONSTRAINT incident_idempotency_keys_caller_length CHECK (length(caller) <= 256);
UPDATE incident_idempotency_keys SET caller = driver_id;
ALTER TABLE incident_idempotency_keys DROP CONSTRAINT incident_idempotency_keys_pkey,
    ADD PRIMARY KEY (caller, key);
