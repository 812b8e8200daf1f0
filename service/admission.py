"""Overload refused early: a request that would only queue behind a full database pool
is answered 503 with ``Retry-After`` at once, rather than slowly, or with a 500 when the
pool's checkout times out after 30 seconds.

Per process, a counter of the requests holding or waiting for a database connection
(the session dependency, ``service.deps``). The pool lends ``2 x db_pool_size``
connections (its size plus as many overflow); up to ``db_queue_limit`` more requests
may wait for one; the next is refused. Counting is exact without a lock: the event loop
runs one task at a time, and check and count happen with no ``await`` between them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from service.errors import Unavailable
from service.settings import Settings


class Admission:
    def __init__(self, connections: int, queue_limit: int) -> None:
        self.limit = connections + queue_limit
        self.in_use = 0
        self.refused = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Admission:
        return cls(2 * settings.db_pool_size, settings.db_queue_limit)

    @contextmanager
    def session(self) -> Iterator[None]:
        if self.in_use >= self.limit:
            self.refused += 1
            raise Unavailable("the service is overloaded; try again shortly")
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1
