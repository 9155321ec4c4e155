"""The screening of error texts before they are stored (issue 11): an SMTP reply or a validator's
detail may echo an address, a phone number or a health word; identifiers and codes stay."""

from __future__ import annotations

from shared.privacy import screen_error_text


def test_error_text_screening_removes_contacts_and_keeps_identifiers() -> None:
    referral_id = "3f2a1234-5678-1234-1234-123456789012"
    screened = screen_error_text(
        f"Détail : 550 5.1.1 <jean.dupont@example.org> refusé ; rappeler le 06 12 34 56 78 "
        f"(+33 6 12 34 56 78) ; RQTH en cours ; orientation {referral_id}, offset 12345678"
    )
    for leaked in ("jean.dupont", "example.org", "06 12 34", "+33", "RQTH"):
        assert leaked not in screened, leaked
    for kept in (referral_id, "12345678", "550 5.1.1"):  # identifiers and codes stay
        assert kept in screened, kept
