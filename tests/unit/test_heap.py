"""The collector settings of a service process (shared/heap.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared.heap import YOUNG_GENERATION_THRESHOLD, settle_start_up_heap


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_collector")
def test_start_up_objects_are_frozen_and_young_collections_come_less_often() -> None:
    older = gc.get_threshold()[1:]
    built_at_start_up = [object() for _ in range(3)], {"settings": [1, 2]}
    settle_start_up_heap()
    assert gc.get_freeze_count() > 0
    collected = {id(o) for o in gc.get_objects()}  # the permanent generation is not
    assert all(gc.is_tracked(o) and id(o) not in collected for o in built_at_start_up)
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *older)


@pytest.mark.usefixtures("restored_collector")
def test_cyclic_garbage_made_later_is_still_collected() -> None:
    settle_start_up_heap()

    class Node:
        def __init__(self) -> None:
            self.me = self

    Node()
    assert gc.collect() > 0
