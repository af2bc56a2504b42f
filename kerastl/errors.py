"""Typed errors: each names the problem and the fix."""


class KerastlError(Exception):
    """Base class of every error kerastl raises on purpose."""


class UnknownBackboneError(KerastlError, LookupError):
    """A backbone name that is not in the zoo (the message suggests close names)."""


class WeightsUnavailableError(KerastlError, OSError):
    """Pretrained weights could not be found or downloaded (the message says how to supply them)."""


class InvalidArgumentError(KerastlError, ValueError):
    """An argument with a wrong type or value."""


class ExportVerificationError(KerastlError, RuntimeError):
    """An exported artefact disagrees with the Keras model (or does not load); nothing was written."""


class DataUnavailableError(KerastlError, OSError):
    """A data set could not be found locally or downloaded (the message says how to supply it)."""
