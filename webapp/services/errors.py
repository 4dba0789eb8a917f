"""Typed errors services raise; views map them to status codes and field messages."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: a use case refused the request with a message a user can act on."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(ServiceError):
    """Bad input: ``errors`` maps field names to messages (``""`` for the whole form)."""

    status_code = 422

    def __init__(self, errors: dict[str, str] | str, field: str = "") -> None:
        if isinstance(errors, str):
            errors = {field: errors}
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class NotFound(ServiceError):
    """The record does not exist, or the actor may not know that it does."""

    status_code = 404


class PermissionDenied(ServiceError):
    """The actor is known but may not do this."""

    status_code = 403


class Conflict(ServiceError):
    """Someone else changed the record since the form was loaded."""

    status_code = 409
