"""The settlement function: a Lambda handler fed by ``user_trades`` through a Kafka event source
mapping, producing a TradeSettlement per trade to ``trade-settlements`` (see README.md).

Modules: :mod:`.records` (the event's records, decoded), :mod:`.settlement` (the disposition
rules, pure), :mod:`.config` (settings and the Secrets Manager secret), :mod:`.app` (one batch,
end to end), :mod:`.handler` (the Lambda entry point), :mod:`.package` (the deployable zip).
"""
