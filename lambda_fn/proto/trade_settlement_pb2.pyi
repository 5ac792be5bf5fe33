from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class TradeSettlement(_message.Message):
    __slots__ = ("user", "symbol", "amount", "disposition", "reason", "timestamp")
    USER_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    user: str
    symbol: str
    amount: float
    disposition: str
    reason: str
    timestamp: int
    def __init__(self, user: _Optional[str] = ..., symbol: _Optional[str] = ..., amount: _Optional[float] = ..., disposition: _Optional[str] = ..., reason: _Optional[str] = ..., timestamp: _Optional[int] = ...) -> None: ...
