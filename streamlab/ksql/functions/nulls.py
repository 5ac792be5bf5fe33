"""NULL handling functions: IFNULL, COALESCE, NULLIF."""

from __future__ import annotations

from streamlab.ksql.functions.registry import Generic, bound, udf

_CAT = "CONDITIONAL"
_T = Generic("T")


@udf("ifnull", _T, _T, returns=bound("T"), null_on_null=False, category=_CAT)
def ifnull(value, alternative):
    """``value`` unless it is NULL, then ``alternative``."""
    return alternative if value is None else value


@udf("COALESCE", _T, _T, returns=bound("T"), variadic=True, null_on_null=False, category=_CAT)
def coalesce(*values):
    """The first non-NULL argument."""
    for value in values:
        if value is not None:
            return value
    return None


@udf("as_value", _T, returns=bound("T"), null_on_null=False, category="OTHER")
def as_value(value):
    """Copies a key column into the value (the planner treats it as a value column)."""
    return value


@udf("nullif", _T, _T, returns=bound("T"), null_on_null=False, category=_CAT)
def nullif(value, other):
    """NULL if both arguments are equal, else the first."""
    return None if value == other else value
