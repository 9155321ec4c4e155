"""``coop-token`` reads the same (prefixed) variables as the service it mints for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic_settings import SettingsConfigDict

from shared.auth.cli import main
from shared.auth.tokens import OrganisationKind, Role, TokenError, TokenVerifier
from shared.settings import ServiceSettings

SECRET = "referral-secret-of-a-test-environment-0123"


class ReferralLikeSettings(ServiceSettings):
    """What the referral service reads (same prefix), without importing the service."""

    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("REFERRAL_", "DISPOSITIFS_", "JWT_")):
            monkeypatch.delenv(key)


def _mint(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    main(list(argv))
    return capsys.readouterr().out.strip()


def _refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_service_option_reads_the_services_prefixed_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REFERRAL_ENVIRONMENT", "test")
    monkeypatch.setenv("REFERRAL_JWT_SECRET", SECRET)
    monkeypatch.setenv("REFERRAL_JWT_ISSUER", "idp-recette")
    monkeypatch.setenv("REFERRAL_JWT_AUDIENCE", "coop-recette")
    referral = TokenVerifier(ReferralLikeSettings(database_url="sqlite+aiosqlite://"))

    argv = ("--service", "referral", "--role", "counsellor", "--ft-structure", "59350")
    token = _mint(capsys, *argv)
    principal = referral.verify(token)
    assert (principal.role, principal.ft_structure) == (Role.COUNSELLOR, "59350")

    same = _mint(capsys, "--env-prefix", "REFERRAL_", "--role", "ops")
    assert referral.verify(same).role is Role.OPS

    # Without the prefix, the tool does not see the referral variables: another key, another
    # issuer, which the referral service refuses.
    with pytest.raises(TokenError):
        referral.verify(_mint(capsys, "--role", "ops"))


def test_the_maximum_lifetime_of_the_service_bounds_the_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REFERRAL_ENVIRONMENT", "development")
    monkeypatch.setenv("REFERRAL_JWT_MAX_LIFETIME_SECONDS", "3600")
    referral = TokenVerifier(ReferralLikeSettings(database_url="sqlite+aiosqlite://"))
    error = _refused(capsys, "--service", "referral", "--role", "ops", "--hours", "2")
    assert "1 h au plus (REFERRAL_JWT_MAX_LIFETIME_SECONDS)" in error
    # By default the token lasts as long as the service accepts.
    assert referral.verify(_mint(capsys, "--service", "referral", "--role", "ops")).role


def test_no_secret_means_the_development_secret_unless_test_or_production_is_declared(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REFERRAL_ENVIRONMENT", "development")
    development = TokenVerifier(ReferralLikeSettings(database_url="sqlite+aiosqlite://"))
    assert development.verify(_mint(capsys, "--service", "referral", "--role", "ops")).role
    monkeypatch.setenv("REFERRAL_ENVIRONMENT", "production")
    error = _refused(capsys, "--service", "referral", "--role", "ops")
    assert "REFERRAL_JWT_SECRET absent et REFERRAL_ENVIRONMENT=production" in error


def test_rs256_services_need_the_private_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "idp.pem"
    key_file.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    monkeypatch.setenv("REFERRAL_ENVIRONMENT", "production")
    monkeypatch.setenv("REFERRAL_JWT_ALGORITHM", "RS256")
    monkeypatch.setenv("REFERRAL_JWT_PUBLIC_KEY", public_pem)
    production = TokenVerifier(ReferralLikeSettings(database_url="sqlite+aiosqlite://"))

    error = _refused(capsys, "--service", "referral", "--role", "ops")
    assert "REFERRAL_JWT_ALGORITHM=RS256 : la clé privée est requise" in error
    token = _mint(capsys, "--service", "referral", "--role", "ops", "--private-key", str(key_file))
    assert production.verify(token).role is Role.OPS


def test_scope_claims_are_required_by_role(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--ft-structure est obligatoire" in _refused(capsys, "--role", "counsellor")
    assert "--agency-id et --network-id" in _refused(capsys, "--role", "agency", "--agency-id", "a")


def test_the_console_script_runs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPOSITIFS_")}
    env["DISPOSITIFS_ENVIRONMENT"] = "test"
    env["DISPOSITIFS_JWT_SECRET"] = SECRET
    result = subprocess.run(
        [sys.executable, "-m", "shared.auth.cli", "--service", "dispositifs", "--role", "ops"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    settings = ServiceSettings(
        database_url="sqlite+aiosqlite://", environment="test", jwt_secret=SECRET
    )
    assert TokenVerifier(settings).verify(result.stdout.strip()).role is Role.OPS


def test_a_counsellor_of_cap_emploi_or_a_mission_locale_is_minted_with_org_claims(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REFERRAL_ENVIRONMENT", "development")
    referral = TokenVerifier(ReferralLikeSettings(database_url="sqlite+aiosqlite://"))
    counsellor = ("--service", "referral", "--role", "counsellor")

    cap = referral.verify(
        _mint(capsys, *counsellor, "--org-kind", "cap_emploi", "--org-code", "CE059")
    )
    assert (cap.organisation_kind, cap.organisation_code, cap.ft_structure) == (
        OrganisationKind.CAP_EMPLOI,
        "CE059",
        None,
    )
    assert cap.organisation == "cap_emploi:CE059"
    ft = referral.verify(
        _mint(capsys, *counsellor, "--org-kind", "france_travail", "--org-code", "75101")
    )
    assert ft.organisation == "75101"

    assert "vont ensemble" in _refused(capsys, *counsellor, "--org-kind", "mission_locale")
    assert "contredit" in _refused(
        capsys,
        *counsellor,
        "--ft-structure",
        "75101",
        "--org-kind",
        "cap_emploi",
        "--org-code",
        "X",
    )
    assert "--org-kind et --org-code pour une autre" in _refused(capsys, *counsellor)
    assert "invalid choice" in _refused(
        capsys, *counsellor, "--org-kind", "pole_emploi", "--org-code", "1"
    )


def test_a_pmsmp_validator_is_minted_with_its_claim_and_only_for_a_counsellor(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISPOSITIFS_ENVIRONMENT", "development")
    dispositifs = TokenVerifier(
        ServiceSettings(database_url="sqlite+aiosqlite://", environment="development")
    )
    counsellor = ("--service", "dispositifs", "--role", "counsellor", "--ft-structure", "59350")
    validator = dispositifs.verify(_mint(capsys, *counsellor, "--pmsmp-validator"))
    assert (validator.role, validator.ft_structure, validator.pmsmp_validator) == (
        Role.COUNSELLOR,
        "59350",
        True,
    )
    assert dispositifs.verify(_mint(capsys, *counsellor)).pmsmp_validator is False
    for role in ("ops", "steering"):
        error = _refused(capsys, "--role", role, "--pmsmp-validator")
        assert "--pmsmp-validator ne vaut que pour un conseiller" in error
