"""The exceptions reelpick raises on purpose. Each carries a message fit to show a person."""


class ReelpickError(Exception):
    """Base class: anything reelpick reports to a user instead of crashing."""


class UsageError(ReelpickError):
    """A bad command-line argument: the command line answers it with exit code 2, like
    argparse's own errors. Elsewhere it is a :class:`ReelpickError` like any other."""


class ConfigError(ReelpickError):
    """config.toml (or an environment override) has a wrong key, type or path."""


class DataError(ReelpickError):
    """A MovieLens file is missing or malformed; the message names the file and line."""


class FetchError(ReelpickError):
    """A download failed or did not verify."""


class EngineError(ReelpickError):
    """The compute engine (Spark) is missing, cannot start, or a job on it failed."""


class PluginError(ReelpickError):
    """A plugin could not be loaded, fitted or asked."""


class NoAnswer(PluginError):
    """The plugin cannot answer for this movie, for a reason it states.

    Raised from ``reelpick_similar`` when the movie is outside the plugin's index
    (no ratings, no poster, ...). It is an expected outcome, not a failure: callers
    show the reason instead of an error.
    """
