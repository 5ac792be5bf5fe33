-- Step 4: the settlements the Lambda function produces to `trade-settlements`, Protobuf through
-- the Schema Registry (lambda_fn/proto/trade_settlement.proto). The record timestamp is taken
-- from the message's `timestamp` field (epoch milliseconds). The function sets it to the trade's
-- own time (the user_trades record timestamp), so the windows below count trades by when they
-- happened, not by when the function ran (the reference app used processing time).
-- USER and TIMESTAMP are quoted because both are keywords in newer ksqlDB grammars.
CREATE STREAM IF NOT EXISTS TRADE_SETTLEMENT (
    `USER` VARCHAR,
    SYMBOL VARCHAR,
    AMOUNT DOUBLE,
    DISPOSITION VARCHAR,
    REASON VARCHAR,
    `TIMESTAMP` BIGINT
) WITH (KAFKA_TOPIC='trade-settlements', VALUE_FORMAT='PROTOBUF', TIMESTAMP='TIMESTAMP');
