"""What every router of the service uses: the runtime and settings, the roles, the paging
parameters and creating with an ``Idempotency-Key``. Domain errors become problem+json in the
shared app (``shared.http.domain_problems``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import AfterValidator, Field

from dispositifs.settings import DispositifsSettings
from shared.auth.tokens import Principal, Role
from shared.contracts.referral import ROME_CODE_PATTERN
from shared.http.app import RuntimeDep
from shared.http.pagination import CursorQuery, LimitQuery
from shared.http.security import require_roles
from shared.referentials import is_rome_code
from shared.runtime import ServiceRuntime

Counsellor = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR))]
CounsellorOrOps = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR, Role.OPS))]
Runtime = RuntimeDep
Limit = LimitQuery
Cursor = CursorQuery


def _known_rome_code(code: str) -> str:
    if not is_rome_code(code):
        raise ValueError("code ROME inconnu du référentiel ROME 4.0")
    return code


#: A code of the ROME 4.0 referential (``shared.referentials``): a 422 on the field otherwise.
RomeCode = Annotated[str, Field(pattern=ROME_CODE_PATTERN), AfterValidator(_known_rome_code)]


def settings_of(runtime: ServiceRuntime) -> DispositifsSettings:
    settings = runtime.settings
    assert isinstance(settings, DispositifsSettings)
    return settings
