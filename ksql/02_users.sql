-- Step 2: the USERS table over `users` (quickstart USERS, keyed by userid). The latest record
-- per key is the user's row; `gender` is in the data but not needed by the application.
CREATE TABLE IF NOT EXISTS USERS (
    USERID VARCHAR PRIMARY KEY,
    REGISTERTIME BIGINT,
    REGIONID VARCHAR
) WITH (KAFKA_TOPIC='users', VALUE_FORMAT='JSON');
