"""SCRAM credentials and ACLs through Kafka's admin protocol, from Python.

aiokafka's admin client has no call for them, so this module declares the two requests
(``AlterUserScramCredentials``, API 51; ``CreateAcls``, API 30, flexible versions 2–3 as served by
Kafka 3.x and 4.x) on aiokafka's protocol classes and sends them with the admin client's own
connection: no Java, no ``kafka-acls.sh`` in the service images. Both need ``ALTER`` on the
cluster, which only the provisioning principal has (``docs/adr/0008-kafka-security.md``).

The salted password is computed here as the SCRAM RFC says (PBKDF2-HMAC with the mechanism's
hash): the broker stores it, never the password.
"""

from __future__ import annotations

import enum
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

#: Mechanism ids of the AlterUserScramCredentials request.
SCRAM_MECHANISMS = {"SCRAM-SHA-256": (1, "sha256", 32), "SCRAM-SHA-512": (2, "sha512", 64)}
SCRAM_ITERATIONS = 8192


class ResourceType(enum.IntEnum):
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5


class PatternType(enum.IntEnum):
    LITERAL = 3
    PREFIXED = 4


class Operation(enum.IntEnum):
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12


ALLOW = 3


@dataclass(frozen=True, slots=True)
class AclBinding:
    """``principal`` (``User:name``) is allowed ``operation`` on a resource, from any host."""

    principal: str
    operation: Operation
    resource_type: ResourceType
    resource_name: str
    pattern: PatternType = PatternType.LITERAL

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            int(self.resource_type),
            self.resource_name,
            int(self.pattern),
            self.principal,
            "*",
            int(self.operation),
            ALLOW,
            {},
        )


def allow(
    principal: str,
    operations: Iterable[Operation],
    resource_type: ResourceType,
    name: str,
    *,
    prefixed: bool = False,
) -> list[AclBinding]:
    pattern = PatternType.PREFIXED if prefixed else PatternType.LITERAL
    return [AclBinding(principal, op, resource_type, name, pattern) for op in operations]


# -- the two requests on aiokafka's protocol classes ---------------------------------------------


class _AlterUserScramCredentialsResponse_v0(Response):
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterUserScramCredentialsRequest_v0(RequestStruct):
    API_KEY = 51
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = _AlterUserScramCredentialsResponse_v0
    SCHEMA = Schema(
        (
            "deletions",
            CompactArray(
                ("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields)
            ),
        ),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterUserScramCredentials(Request[_AlterUserScramCredentialsRequest_v0]):
    API_KEY = 51

    def __init__(self, upsertions: Sequence[tuple[Any, ...]]) -> None:
        self._upsertions = list(upsertions)

    def build(
        self, request_struct_class: type[_AlterUserScramCredentialsRequest_v0]
    ) -> _AlterUserScramCredentialsRequest_v0:
        return request_struct_class([], self._upsertions, {})


class _CreateAclsResponse_v2(Response):
    API_KEY = 30
    API_VERSION = 2
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _CreateAclsResponse_v3(Response):
    API_KEY = 30
    API_VERSION = 3
    SCHEMA = _CreateAclsResponse_v2.SCHEMA


_CREATIONS = CompactArray(
    ("resource_type", Int8),
    ("resource_name", CompactString("utf-8")),
    ("resource_pattern_type", Int8),
    ("principal", CompactString("utf-8")),
    ("host", CompactString("utf-8")),
    ("operation", Int8),
    ("permission_type", Int8),
    ("tags", TaggedFields),
)


class _CreateAclsRequest_v2(RequestStruct):
    API_KEY = 30
    API_VERSION = 2
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = _CreateAclsResponse_v2
    SCHEMA = Schema(("creations", _CREATIONS), ("tags", TaggedFields))


class _CreateAclsRequest_v3(RequestStruct):
    API_KEY = 30
    API_VERSION = 3
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = _CreateAclsResponse_v3
    SCHEMA = _CreateAclsRequest_v2.SCHEMA


_CreateAclsStruct: TypeAlias = _CreateAclsRequest_v2 | _CreateAclsRequest_v3


class _CreateAcls(Request[_CreateAclsStruct]):
    API_KEY = 30

    def __init__(self, bindings: Sequence[AclBinding]) -> None:
        self._bindings = list(bindings)

    def build(self, request_struct_class: type[_CreateAclsStruct]) -> _CreateAclsStruct:
        return request_struct_class([binding.as_tuple() for binding in self._bindings], {})


# -- the calls ------------------------------------------------------------------------------------


class KafkaSecurityError(RuntimeError):
    """The broker refused a credential or an ACL (the error names the Kafka error, never a
    password)."""


def salted_password(password: str, salt: bytes, iterations: int, mechanism: str) -> bytes:
    _, digest, length = SCRAM_MECHANISMS[mechanism]
    return hashlib.pbkdf2_hmac(digest, password.encode(), salt, iterations, dklen=length)


async def upsert_scram_user(
    admin: AIOKafkaAdminClient,
    name: str,
    password: str,
    *,
    mechanism: str = "SCRAM-SHA-512",
    iterations: int = SCRAM_ITERATIONS,
) -> None:
    """Create the SCRAM user ``name``, or give it this new password."""
    mechanism_id = SCRAM_MECHANISMS[mechanism][0]
    salt = os.urandom(32)
    upsertion: tuple[Any, ...] = (
        name,
        mechanism_id,
        iterations,
        salt,
        salted_password(password, salt, iterations, mechanism),
        {},
    )
    response: Any = await admin._send_request(_AlterUserScramCredentials([upsertion]))
    for user, code, message, _tags in response.results:
        if code != 0:
            raise KafkaSecurityError(
                f"SCRAM user {user}: {for_code(code).__name__} {message or ''}".strip()
            )


async def create_acls(admin: AIOKafkaAdminClient, bindings: Sequence[AclBinding]) -> None:
    """Add the ACLs (adding one that exists changes nothing)."""
    if not bindings:
        return
    response: Any = await admin._send_request(_CreateAcls(bindings))
    failed = [
        f"{binding.principal} {binding.operation.name} {binding.resource_name}: "
        f"{for_code(code).__name__} {message or ''}".strip()
        for binding, (code, message, _tags) in zip(bindings, response.results, strict=True)
        if code != 0
    ]
    if failed:
        raise KafkaSecurityError("ACLs refused: " + "; ".join(failed))
