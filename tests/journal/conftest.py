from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.journal.harness import Receiver


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    receiver = Receiver(tmp_path_factory.mktemp("receiver"))
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def fresh_receiver(receiver: Receiver) -> Receiver:
    """The module's receiver, accepting again (the test before may have changed it)."""
    if receiver.process is None:
        receiver.start()
    receiver.mode("ok", reject=[], public_key=None, client_id=None)
    return receiver
