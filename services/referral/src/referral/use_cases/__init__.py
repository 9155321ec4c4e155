"""What the referral service does, one module per aggregate, and :mod:`.queries` for the reads.

Each use case takes the session (it works inside the caller's transaction: the change, its
transition log and its outbox events commit together), a typed command (a frozen dataclass) and
the caller; it loads and locks its own rows, authorises through :mod:`referral.access`, changes
them and stages its events.
"""
