"""streamlab: a workshop and embedded lab platform for serverless stream processing."""

__version__ = "0.1.0"
