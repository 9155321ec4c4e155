"""Reference agency ERP client: what an integrator's program does, in a few hundred lines.

It follows the network's feed (``agency.<network>.feed``) and answers on the network's response
topic (``agency.<network>.responses``), with CloudEvents in Kafka binary mode — nothing but the
published contract (``docs/asyncapi.yaml``).
"""
