"""Survive a lost database connection in long-running worker code.

Django checks its connection only between requests (in a worker: between tasks), so a
connection that Postgres drops mid-job (a failover, an idle-session killer, a restart)
would fail every later write of that job, including the one that marks it failed, and
leave it "running" until the reconciler's stale timeout.
"""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import InterfaceError, OperationalError, connection

P = ParamSpec("P")
R = TypeVar("R")


def reconnecting(func: Callable[P, R]) -> Callable[P, R]:
    """Run `func` once more on a new connection if the database connection was lost.

    Only for idempotent writes outside a transaction. An error on a connection that
    still works (a constraint, a timeout) is raised as it is.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (OperationalError, InterfaceError):
            if connection.in_atomic_block or connection.is_usable():
                raise
            connection.close()  # the next query opens a new one
            return func(*args, **kwargs)

    return wrapper
