"""The garbage collector of a long-running service process.

A service allocates most of its objects once, at start-up: modules, the referentials, the app's
routes and models (the referral service: ~164,000 objects the collector tracks). CPython's
collector walks every one of them at each full collection, though none will ever be garbage:
~100 ms of CPU in one pause, measured in the referral process on the development machine.
:func:`freeze_start_up_objects` runs once the service has started: it collects what start-up left
over, then freezes the survivors (``gc.freeze``: moved to a permanent generation that the
collections no longer walk). A full collection is rare at a steady load (none in 2,800 POSTs,
``python -m bench.ab``); when one comes, it no longer stops the event loop for that long.
"""

from __future__ import annotations

import gc


def freeze_start_up_objects() -> None:
    """Collect what start-up left over, then freeze the survivors (Python's own advice for a
    process that forks workers or lives long: ``gc.freeze`` after the set-up)."""
    gc.collect()
    gc.freeze()
