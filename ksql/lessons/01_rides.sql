-- Lesson (stateless vs stateful): taxi ride locations from the `rides` dataset (topic geo_events).
CREATE STREAM IF NOT EXISTS GEO_EVENTS (
    RIDEID VARCHAR KEY,
    LATITUDE DOUBLE,
    LONGITUDE DOUBLE,
    DSTLATITUDE DOUBLE,
    DSTLONGITUDE DOUBLE
) WITH (KAFKA_TOPIC='geo_events', VALUE_FORMAT='JSON');

-- Stateless: each event on its own, with the distance left to the destination.
CREATE STREAM IF NOT EXISTS LOCATIONS AS
    SELECT
        RIDEID,
        LATITUDE,
        LONGITUDE,
        GEO_DISTANCE(LATITUDE, LONGITUDE, DSTLATITUDE, DSTLONGITUDE, 'km') AS KMTODST
    FROM GEO_EVENTS
    EMIT CHANGES;

-- Stateful: per ride, how many location updates were more than 10 km from the destination.
CREATE TABLE IF NOT EXISTS RIDES_OVER_10K AS
    SELECT RIDEID, COUNT(*) AS NUM_OVER_10K
    FROM LOCATIONS
    WHERE KMTODST > 10
    GROUP BY RIDEID
    EMIT CHANGES;
