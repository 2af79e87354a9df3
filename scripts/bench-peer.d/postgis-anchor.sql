-- The anchor a database engineer would pick: the same vendors in a PostGIS table with a
-- geography column and a GiST index, for index-ordered nearest-neighbour queries.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE TABLE anchor_vendors AS
SELECT id, capabilities, availability,
       ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography AS geog
FROM bench.peer_vendors;
ALTER TABLE anchor_vendors ADD PRIMARY KEY (id);
CREATE INDEX anchor_vendors_geog_idx ON anchor_vendors USING gist (geog);
ANALYZE anchor_vendors;
