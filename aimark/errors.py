"""Errors a user of the pipeline can cause, under one base the command line catches."""

from __future__ import annotations


class AimarkError(Exception):
    """Base of the pipeline's user errors (bad settings, unusable inputs)."""


class SettingsError(AimarkError, ValueError):
    """A settings file is missing, unreadable, or names unknown or invalid values."""


class StampError(AimarkError):
    """A video cannot be stamped as asked (e.g. a visible notice on a format it cannot draw on)."""
