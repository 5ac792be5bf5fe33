"""AWS Lambda API errors, with AWS's codes, HTTP statuses and wording.

Models raise these; the response layer serialises them the way the Lambda service does: the code
in the ``x-amzn-ErrorType`` header and a JSON body ``{"Type": "User", "message": ...}``. The key
is ``Message`` for the shapes that spell it so in the service model (ResourceNotFoundException,
ResourceInUseException, ServiceException) and ``message`` for the others; botocore reads both.

Wording marked *verified* was seen in AWS responses quoted in public issues or in AWS's own
emulator; the rest follows AWS's style and is marked *unverified* in a comment.
"""

from __future__ import annotations


class LambdaError(Exception):
    """One AWS error response."""

    code: str = "ServiceException"
    status: int = 400
    message_key: str = "message"
    error_type: str = "User"

    def __init__(self, message: str, **extra: str) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, str]:
        return {"Type": self.error_type, self.message_key: self.message, **self.extra}


class ValidationException(LambdaError):
    """A member fails a constraint of the API model (range, enum, pattern)."""

    code = "ValidationException"

    def __init__(self, value: object, member: str, constraint: str) -> None:
        # verified: the "1 validation error detected" form is what AWS's coral front end returns
        super().__init__(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
            f"constraint: {constraint}"
        )

    def body(self) -> dict[str, str]:
        return {"message": self.message}


class InvalidParameterValueException(LambdaError):
    code = "InvalidParameterValueException"


class ResourceNotFoundException(LambdaError):
    code = "ResourceNotFoundException"
    status = 404
    message_key = "Message"


class ResourceConflictException(LambdaError):
    code = "ResourceConflictException"
    status = 409


class ResourceInUseException(LambdaError):
    code = "ResourceInUseException"
    message_key = "Message"


class PreconditionFailedException(LambdaError):
    code = "PreconditionFailedException"
    status = 412


class RequestTooLargeException(LambdaError):
    code = "RequestTooLargeException"
    status = 413


class RequestEntityTooLargeException(LambdaError):
    """CreateFunction/UpdateFunctionCode with a request over the direct-upload limit."""

    code = "RequestEntityTooLargeException"
    status = 413


class InvalidRequestContentException(LambdaError):
    code = "InvalidRequestContentException"


class UnsupportedMediaTypeException(LambdaError):
    code = "UnsupportedMediaTypeException"
    status = 415


class TooManyRequestsException(LambdaError):
    code = "TooManyRequestsException"
    status = 429

    def __init__(self, reason: str) -> None:
        # verified: "Rate Exceeded." with a Reason member and a Retry-After header
        super().__init__("Rate Exceeded.", Reason=reason)
        self.headers = {"Retry-After": "1"}


class ServiceException(LambdaError):
    code = "ServiceException"
    status = 500
    message_key = "Message"
    error_type = "Service"


class UnknownOperation(LambdaError):
    """A path and method that no Lambda operation has (API Gateway's answer to unknown routes)."""

    code = "UnknownOperationException"
    status = 404

    def __init__(self, method: str, path: str) -> None:
        super().__init__(f"Unknown operation: {method} {path}")

    def body(self) -> dict[str, str]:
        return {"message": self.message}


# --- named errors, one per situation, so models read like the rules they enforce ----------------


def function_not_found(arn: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Function not found: {arn}")  # verified


def function_already_exists(name: str) -> ResourceConflictException:
    return ResourceConflictException(f"Function already exist: {name}")  # verified (sic)


def mapping_not_found() -> ResourceNotFoundException:
    return ResourceNotFoundException("The resource you requested does not exist.")  # verified


def function_not_active(state: str) -> ResourceConflictException:
    # verified (troubleshooting-invocation: "Operation cannot be performed")
    return ResourceConflictException(
        "The operation cannot be performed at this time. The function is currently in the "
        f"following state: {state}"
    )


def update_in_progress(arn: str) -> ResourceConflictException:
    # verified wording for a second update while LastUpdateStatus is InProgress
    return ResourceConflictException(
        f"The operation cannot be performed at this time. An update is in progress for "
        f"resource: {arn}"
    )


def runtime_and_handler_required() -> InvalidParameterValueException:
    return InvalidParameterValueException(  # verified
        "Runtime and Handler are mandatory parameters for functions created with deployment "
        "packages."
    )


def bad_zip() -> InvalidParameterValueException:
    return InvalidParameterValueException(  # verified
        "Could not unzip uploaded file. Please check your file, then try to upload again."
    )


def empty_zip() -> InvalidParameterValueException:
    return InvalidParameterValueException("Uploaded file must be a non-empty zip")  # verified
