"""Schema Registry errors with Confluent's HTTP statuses, error codes and wording.

Codes and messages follow ``io.confluent.kafka.schemaregistry.rest.exceptions.Errors`` (and the
``Rest*Exception`` classes beside it), so a client that matches on ``error_code`` or shows the
message sees what the real registry would have said. Models raise these; ``rest`` serializes
them as ``{"error_code": int, "message": str}``.
"""

from __future__ import annotations


class RegistryError(Exception):
    """An error the REST layer returns as-is: HTTP status, Confluent error code, message."""

    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def to_dict(self) -> dict:
        return {"error_code": self.error_code, "message": self.message}


# --- 401 / 404 ---------------------------------------------------------------------------------


def unauthorized() -> RegistryError:
    # What Confluent Platform (Jetty basic auth) and Confluent Cloud both answer.
    return RegistryError(401, 401, "Unauthorized")


def http_not_found() -> RegistryError:
    """An unknown path (Jersey's own 404), e.g. the associations API older registries lack."""
    return RegistryError(404, 404, "HTTP 404 Not Found")


def method_not_allowed() -> RegistryError:
    return RegistryError(405, 405, "HTTP 405 Method Not Allowed")


def subject_not_found(subject: str) -> RegistryError:
    return RegistryError(404, 40401, f"Subject '{subject}' not found.")


def version_not_found(version: int) -> RegistryError:
    return RegistryError(404, 40402, f"Version {version} not found.")


def schema_not_found(schema_id: int | str | None = None) -> RegistryError:
    if schema_id is None:
        return RegistryError(404, 40403, "Schema not found")
    return RegistryError(404, 40403, f"Schema {schema_id} not found")


def subject_soft_deleted(subject: str) -> RegistryError:
    # The missing space after the full stop is Confluent's.
    return RegistryError(
        404, 40404, f"Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"
    )


def subject_not_soft_deleted(subject: str) -> RegistryError:
    return RegistryError(
        404, 40405, f"Subject '{subject}' was not deleted first before being permanently deleted"
    )


def version_soft_deleted(subject: str, version: int) -> RegistryError:
    return RegistryError(
        404,
        40406,
        f"Subject '{subject}' Version {version} was soft deleted."
        "Set permanent=true to delete permanently",
    )


def version_not_soft_deleted(subject: str, version: int) -> RegistryError:
    return RegistryError(
        404,
        40407,
        f"Subject '{subject}' Version {version} was not deleted first before being "
        "permanently deleted",
    )


def subject_compatibility_not_configured(subject: str) -> RegistryError:
    return RegistryError(
        404, 40408, f"Subject '{subject}' does not have subject-level compatibility configured"
    )


def subject_mode_not_configured(subject: str) -> RegistryError:
    return RegistryError(
        404, 40409, f"Subject '{subject}' does not have subject-level mode configured"
    )


# --- 409 ---------------------------------------------------------------------------------------


def incompatible_schema(subject: str, details: list[str]) -> RegistryError:
    # error_code 409 as in every Confluent Platform release up to 8.0.3 (and the docker image
    # most labs use); registries built after Dec 2025 answer 40901 with the same message.
    return RegistryError(
        409,
        409,
        f'Schema being registered is incompatible with an earlier schema for subject "{subject}"'
        f", details: [{', '.join(details)}]",
    )


# --- 422 ---------------------------------------------------------------------------------------


def invalid_schema(message: str) -> RegistryError:
    return RegistryError(422, 42201, message)


def invalid_version(version: str) -> RegistryError:
    return RegistryError(
        422,
        42202,
        f"The specified version '{version}' is not a valid version id. "
        'Allowed values are between [1, 2^31-1] and the string "latest"',
    )


def invalid_compatibility_level() -> RegistryError:
    return RegistryError(
        422,
        42203,
        "Invalid compatibility level. Valid values are none, backward, forward, full, "
        "backward_transitive, forward_transitive, and full_transitive",
    )


def invalid_mode() -> RegistryError:
    return RegistryError(
        422, 42204, "Invalid mode. Valid values are READWRITE, READONLY, IMPORT and FORWARD."
    )


def operation_not_permitted(message: str) -> RegistryError:
    return RegistryError(422, 42205, message)


def reference_exists(key: str) -> RegistryError:
    return RegistryError(422, 42206, f"One or more references exist to the schema {key}.")


def invalid_subject(subject: str) -> RegistryError:
    return RegistryError(422, 42208, f"The specified subject '{subject}' is not a valid.")


# --- 400 / 500 ---------------------------------------------------------------------------------


def bad_request(message: str) -> RegistryError:
    """Malformed JSON body (rest-utils' JsonParseException mapper answers 400)."""
    return RegistryError(400, 400, message)


def unprocessable(message: str) -> RegistryError:
    """Well-formed JSON of the wrong shape (rest-utils' JsonMappingException mapper)."""
    return RegistryError(422, 422, message)


def store_error(message: str) -> RegistryError:
    return RegistryError(500, 50001, message)


def internal_error(message: str) -> RegistryError:
    return RegistryError(500, 50001, message)
