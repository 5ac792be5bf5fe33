"""The ksqlDB-compatible engine.

Stages, each a package that only uses the ones before it: ``parser`` (SQL text to AST) →
``catalog`` (sources, schemas, topics) → ``planner`` (analysis and execution steps) →
``runtime`` (operators over records), with ``types``, ``schema``, ``expressions``,
``functions`` and ``formats`` beside them. ``engine`` runs statements; ``qtt`` runs ksqlDB's
query-validation tests against the engine.
"""
