"""The library the three services share.

One envelope, one outbox, one consumer loop, one error format, one way to authenticate.
"""
