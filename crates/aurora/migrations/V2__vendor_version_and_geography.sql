-- Roadcall schema v2: vendor row versions, the one SQL distance, and PostGIS where it exists.

-- Every write to a vendor row raises its version, so a cache that holds version n can
-- refuse any answer older than n (the cache orders its writes by this number).
ALTER TABLE vendors ADD COLUMN version bigint NOT NULL DEFAULT 1 CHECK (version >= 1);

CREATE FUNCTION vendors_next_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER vendors_next_version
    BEFORE UPDATE ON vendors
    FOR EACH ROW EXECUTE FUNCTION vendors_next_version();

-- Great-circle distance in metres on Redis's sphere (GEOSEARCH's radius, 6372797.560856 m),
-- written step for step like `cache::GeoPoint::haversine_m`, so the database, the Rust code
-- and Redis put a vendor at the edge of a radius on the same side of it.
--
-- PostgreSQL raises `22003 value out of range: underflow` when a product rounds a non-zero
-- result to zero, which legal but absurd inputs make happen (a latitude of 5e-324, a
-- longitude difference of 1e-200 squared). So a latitude below 1e-300 degrees and an angle
-- difference below 1e-100 are taken as zero before they are multiplied; the distance then
-- differs from the Rust one by less than 1e-90 m.
CREATE FUNCTION geo_distance_m(lat1 double precision, lon1 double precision,
                               lat2 double precision, lon2 double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 2 * 6372797.560856::double precision * asin(sqrt(
    power(sin((CASE WHEN abs(lat2 - lat1) < 1e-100 THEN 0
                    ELSE radians(CASE WHEN abs(lat2) < 1e-300 THEN 0 ELSE lat2 END)
                       - radians(CASE WHEN abs(lat1) < 1e-300 THEN 0 ELSE lat1 END) END) / 2), 2)
    + cos(radians(CASE WHEN abs(lat1) < 1e-300 THEN 0 ELSE lat1 END))
      * cos(radians(CASE WHEN abs(lat2) < 1e-300 THEN 0 ELSE lat2 END))
      * power(sin((CASE WHEN abs(lon2 - lon1) < 1e-100 THEN 0
                        ELSE radians(lon2 - lon1) END) / 2), 2)));

-- PostGIS, where the server offers it (Aurora PostgreSQL does; Debian's package is
-- postgresql-15-postgis-3): a geography column kept from lon/lat and GiST indexes for the
-- index-ordered nearest-neighbour query (`ORDER BY geog <-> point LIMIT n`). Without the
-- extension, or without the right to create it, the bounding-box query on (lat, lon) serves.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgis') THEN
        RAISE NOTICE 'postgis is not available: vendor search uses the bounding box';
        RETURN;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS postgis;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'postgis is available but this role may not create it: vendor search uses the bounding box';
        RETURN;
    END;
    EXECUTE 'ALTER TABLE vendors ADD COLUMN geog geography(Point, 4326) '
         || 'GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography) STORED';
    EXECUTE 'CREATE INDEX vendors_geog_idx ON vendors USING gist (geog)';
    -- Matching only ever looks at available vendors: a small index that a burst of claims
    -- does not have to walk past busy vendors in.
    EXECUTE 'CREATE INDEX vendors_available_geog_idx ON vendors USING gist (geog) '
         || 'WHERE availability = ''available''';
END
$$;
