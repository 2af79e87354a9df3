-- Loads the peer's vendors (bench.peer_vendors, filled by COPY) into our schema.
-- Our schema ties `busy` to a current incident (vendors_busy_iff_incident), so every busy
-- vendor of the peer's data set gets a matched incident `inc-bench-<vendor id>`.
BEGIN;
INSERT INTO vendors (id, business_name, capabilities, lat, lon, availability, current_incident_id, rating)
SELECT id, business_name, capabilities, lat, lon, availability,
       CASE WHEN availability = 'busy' THEN 'inc-bench-' || id END, rating
FROM bench.peer_vendors;
INSERT INTO incidents (id, driver_id, incident_type, lat, lon, status, matched_vendor_id)
SELECT 'inc-bench-' || id, 'driver-bench', capabilities[1], lat, lon, 'matched', id
FROM bench.peer_vendors
WHERE availability = 'busy';
COMMIT;
ANALYZE vendors;
ANALYZE incidents;
