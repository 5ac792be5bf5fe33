-- Lesson (stateful counting): login attempts from the `logins` dataset (topic login_attempts).
CREATE STREAM IF NOT EXISTS LOGIN_ATTEMPTS (
    USERID VARCHAR KEY,
    IP VARCHAR,
    SUCCESS BOOLEAN
) WITH (KAFKA_TOPIC='login_attempts', VALUE_FORMAT='JSON');

-- Failed logins per user; a user past the threshold is one to act on.
CREATE TABLE IF NOT EXISTS FAILED_LOGINS_PER_USER AS
    SELECT USERID, COUNT(*) AS FAILED_ATTEMPTS
    FROM LOGIN_ATTEMPTS
    WHERE SUCCESS = FALSE
    GROUP BY USERID
    EMIT CHANGES;

-- The same per minute, keeping only users with at least 3 failures in a window.
CREATE TABLE IF NOT EXISTS SUSPICIOUS_LOGINS_PER_MINUTE AS
    SELECT USERID, COUNT(*) AS FAILED_ATTEMPTS
    FROM LOGIN_ATTEMPTS
    WINDOW TUMBLING (SIZE 60 SECONDS)
    WHERE SUCCESS = FALSE
    GROUP BY USERID
    HAVING COUNT(*) >= 3
    EMIT CHANGES;
