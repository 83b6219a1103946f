"""Whether the running thread may load a model (TensorFlow and the like).

A thread that answers people must not: importing TensorFlow alone takes seconds and hundreds
of MB, and while one question waits for it every other chat's answer waits too. The bot marks
the threads that ask its plugins (:func:`forbid_models`, a thread pool's initializer); a
plugin checks :func:`models_allowed` before it would load one, and answers with what is
already stored instead. Work that needs a model goes to a worker process
(:mod:`reelpick.imagesearch`). Everywhere else (the CLI, fits, the evaluation, the worker)
models are allowed.
"""

from __future__ import annotations

import threading

_here = threading.local()


def forbid_models() -> None:
    """From now on, :func:`models_allowed` is False in this thread."""
    _here.forbidden = True


def models_allowed() -> bool:
    """Whether this thread may load a model (True unless :func:`forbid_models` ran here)."""
    return not getattr(_here, "forbidden", False)
