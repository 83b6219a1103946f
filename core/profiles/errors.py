"""The exceptions of the profile layer. Each message is fit to show the person concerned."""

from __future__ import annotations

from ..errors import ReelpickError


class ProfileError(ReelpickError):
    """A profile change that cannot be made (an unknown owner form, a rating off the scale)."""


class ProfileStoreError(ProfileError):
    """The profile database cannot be opened or written; the message names the file."""


class ProfileImportError(ProfileError):
    """A whole import file was refused (wrong columns, not text, too large, no rows).

    Nothing of the file was stored. Row-level problems are not errors: they are reported
    in :class:`~reelpick.profiles.model.ImportResult.unmatched`.
    """
