"""Garbage collection settings for a process that runs one service.

Parsing one HL7 message allocates thousands of short-lived container objects. With the
interpreter's default young-generation threshold (700 allocations) the cyclic collector runs
several times per message, and each run promotes the objects of the messages in flight, so
that older-generation runs come often and traverse everything the process built at start-up
(the framework, the FHIR models, pydantic's schemas), which never becomes garbage.

``settle_start_up_heap`` moves what start-up built into the permanent generation (no
collection looks at it again) and raises the young threshold, so that a message's objects
are freed by reference counting before a collection runs. Cyclic garbage is still collected,
only less often. Only for a process that runs one service (``cachexia service``): a test
process builds and drops many services, whose frozen objects would never be reclaimed.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 10_000


def settle_start_up_heap() -> None:
    gc.collect()  # what start-up dropped is not frozen
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, older, oldest)
