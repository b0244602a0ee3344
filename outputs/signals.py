"""SIGTERM handled as Ctrl-C is: an exception, so every ``finally`` and ``with`` cleans up.

Python turns SIGINT into KeyboardInterrupt, which unwinds the stack; SIGTERM
(what ``kill``, systemd and container runtimes send) ends the process at once
by default and leaves its partial files behind.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

#: Exit status of a process ended by SIGTERM, as shells report it.
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(SystemExit):
    """Raised in the main thread when SIGTERM arrives inside :func:`terminate_gracefully`."""

    def __init__(self) -> None:
        super().__init__(EXIT_TERMINATED)


def _raise(signum: int, frame: Any) -> None:
    raise Terminated()


@contextmanager
def deferred() -> Iterator[None]:
    """While inside, SIGINT and SIGTERM wait: a step that must complete or be undone is not cut in two."""
    wait = {signal.SIGINT, signal.SIGTERM}
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, wait)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


@contextmanager
def terminate_gracefully() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` instead of ending the process.

    Only the main thread can receive it, and an application's own SIGTERM
    handler is left alone; nested uses install the handler once.
    """
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
