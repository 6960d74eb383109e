"""Errors the data layer raises on purpose, with messages fit to show a user."""


class InvalidQuery(ValueError):
    """A filter, sort, cursor or range outside what the data layer allows."""


class NotFound(LookupError):
    """The thing asked for does not exist."""
