"""Typed errors: each names the problem and the fix."""
import re


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


class ClusterError(KerastlError, RuntimeError):
    """A worker of a multi-worker run was lost mid-training (the message says how to resume)."""


def first_line(error: BaseException) -> str:
    """An exception's message without TensorFlow's `{{function_node …}}` prefix, first line only."""
    message = getattr(error, "message", None) or str(error)
    message = re.sub(r"\{\{[^}]*\}\}\s*", "", message)
    return (message.strip().splitlines() or [type(error).__name__])[0]
