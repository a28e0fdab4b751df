"""Exceptions raised by sslts."""

__all__ = ["TrainingDivergedError"]


class TrainingDivergedError(FloatingPointError, ValueError):
    """Training produced a non-finite loss.

    The estimator keeps the last weights whose epoch ended with a finite loss, so it
    can still ``transform``; refit with a lower ``lr`` (or rescaled data) to train it
    properly.
    """
