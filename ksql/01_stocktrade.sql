-- Step 1: the trades Datagen writes to `stocktrade` (quickstart STOCK_TRADES, JSON values, keyed
-- by symbol). No key column is declared: the join below re-keys the stream by userid.
CREATE STREAM IF NOT EXISTS STOCKTRADE (
    SIDE VARCHAR,
    QUANTITY INT,
    SYMBOL VARCHAR,
    PRICE INT,
    ACCOUNT VARCHAR,
    USERID VARCHAR
) WITH (KAFKA_TOPIC='stocktrade', VALUE_FORMAT='JSON');
