"""Business errors that pages and the API turn into clear 4xx answers."""

from django.core.exceptions import ValidationError


class ConflictError(Exception):
    """A write lost a race: the record changed since the caller read it (HTTP 409); `current` is its state now,
    None when it was removed meanwhile."""

    def __init__(self, current):
        super().__init__("conflict")
        self.current = current


class DuplicateError(ValidationError):
    """The record looks like one that already exists (ARC-5); carries what was found."""

    def __init__(self, message, *, duplicates, confirmable=False):
        super().__init__(message, code="duplicate")
        self.duplicates = duplicates
        self.confirmable = confirmable
