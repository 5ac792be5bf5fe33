-- Step 3: every trade enriched with its user's region: a stream-table LEFT JOIN, so a trade whose
-- user is not (yet) in USERS is kept with a NULL REGIONID. Joining on USERID makes USERID the
-- record key of `user_trades` (KAFKA format, a plain string such as 'User_3'); it is not in the
-- JSON value. The Lambda function reads the user from the key.
CREATE STREAM IF NOT EXISTS USER_TRADES
    WITH (KAFKA_TOPIC='user_trades', VALUE_FORMAT='JSON') AS
    SELECT
        S.USERID AS USERID,
        U.REGIONID AS REGIONID,
        S.QUANTITY AS QUANTITY,
        S.SYMBOL AS SYMBOL,
        S.PRICE AS PRICE,
        S.ACCOUNT AS ACCOUNT,
        S.SIDE AS SIDE
    FROM STOCKTRADE S
    LEFT JOIN USERS U ON S.USERID = U.USERID
    EMIT CHANGES;
