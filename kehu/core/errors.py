"""Typed errors raised by services and mapped by the API and the CLI."""

from dataclasses import dataclass


class KehuError(Exception):
    """Base class: ``code`` is the stable, machine-readable error code."""

    code = "ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def extensions(self) -> dict[str, str]:
        """GraphQL error extensions (graphql-core copies them from the original error)."""
        ext = {"code": self.code}
        if self.field:
            ext["field"] = self.field
        return ext


class Unauthenticated(KehuError):
    """No valid API key."""

    code = "UNAUTHENTICATED"


class Forbidden(KehuError):
    """The actor's role lacks a permission (``actor.require(scope)``)."""

    code = "FORBIDDEN"


class NotFound(KehuError):
    """Missing, or not visible to the actor (both look the same from outside)."""

    code = "NOT_FOUND"


class Conflict(KehuError):
    """Stale ``expectedVersion`` or a concurrent change."""

    code = "CONFLICT"


@dataclass(frozen=True)
class FieldError:
    field: str | None
    message: str
    code: str = "INVALID"


class ValidationFailed(KehuError):
    """Bad input or a broken business rule; reported in the mutation payload's ``errors``."""

    code = "VALIDATION"

    def __init__(self, errors: list[FieldError] | FieldError | str, *, field: str | None = None):
        if isinstance(errors, str):
            errors = [FieldError(field, errors)]
        elif isinstance(errors, FieldError):
            errors = [errors]
        self.errors = errors
        super().__init__("; ".join(e.message for e in errors), field=errors[0].field)


class BadInput(KehuError):
    """A GraphQL argument value that is malformed (a Decimal that is not a decimal string, a
    date that does not exist); raised while the request is checked, before anything runs."""

    code = "BAD_USER_INPUT"


class Unavailable(KehuError):
    """A feature whose optional extra or system library is not installed (HTTP 501)."""

    code = "UNAVAILABLE"


class PluginError(KehuError):
    """Plugin set cannot be loaded (missing dependency, hook clash, ...)."""

    code = "PLUGIN"
