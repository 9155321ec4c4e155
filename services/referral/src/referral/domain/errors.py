"""The referral service's own refusals, as :mod:`shared.domain.errors` (each app maps them to
problem+json in one place). Only those whose title or code differ from the shared ones."""

from __future__ import annotations

from shared.domain.errors import Conflict, TransitionRefused


class ReferralAlreadyOpen(Conflict):
    """One open referral per job seeker, agency and offer (issue 3)."""

    title = "Orientation déjà ouverte"
    default_code = "referral-already-open"


class JobSeekerExists(Conflict):
    title = "Demandeur d'emploi déjà enregistré"
    default_code = "job-seeker-exists"


class JobSeekerShared(Conflict):
    title = "Demandeur d'emploi déjà partagé"
    default_code = "job-seeker-already-shared"


class AgencyExists(Conflict):
    default_code = "agency-exists"


class NetworkExists(Conflict):
    default_code = "network-exists"


class ReferralTransitionRefused(TransitionRefused):
    title = "Transition impossible"
