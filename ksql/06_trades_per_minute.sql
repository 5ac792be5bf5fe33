-- Step 6: trades per symbol and minute straight from USER_TRADES (JSON). The settlement tables of
-- step 5 count what the Lambda function decided; this one counts what it was given, so the two
-- can be compared window by window (and it runs on engines without PROTOBUF support).
CREATE TABLE IF NOT EXISTS TRADES_PER_MINUTE AS
    SELECT SYMBOL, COUNT(*) AS NUM_TRADES
    FROM USER_TRADES
    WINDOW TUMBLING (SIZE 60 SECONDS)
    GROUP BY SYMBOL
    EMIT CHANGES;
