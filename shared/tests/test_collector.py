"""The collector's start-up freeze (shared.collector), run by every service's lifespan."""

from __future__ import annotations

import gc
import weakref

from shared.collector import freeze_start_up_objects


def test_the_objects_alive_after_start_up_are_frozen_and_garbage_is_collected_first() -> None:
    gc.unfreeze()

    class Cycle:
        pass

    garbage = Cycle()
    garbage.self = garbage  # type: ignore[attr-defined]
    gone = weakref.ref(garbage)
    del garbage
    try:
        freeze_start_up_objects()
        assert gc.get_freeze_count() > 0
        # The cycle was collected before the freeze: it is not kept for ever.
        assert gone() is None
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
