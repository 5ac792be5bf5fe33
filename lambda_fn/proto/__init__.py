"""Protobuf messages of the application; generated code lives in ``*_pb2.py`` (see README.md)."""

from .trade_settlement_pb2 import TradeSettlement

__all__ = ["TradeSettlement"]
