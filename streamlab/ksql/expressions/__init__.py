"""Expression typing (``typing``), implicit coercion (``coercion``), CAST (``cast``) and
compilation to closures (``compiler``)."""

from streamlab.ksql.expressions.compiler import CompiledExpression, ExpressionCompiler
from streamlab.ksql.expressions.typing import ExpressionTypeManager

__all__ = ["CompiledExpression", "ExpressionCompiler", "ExpressionTypeManager"]
