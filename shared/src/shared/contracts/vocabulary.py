"""Coded values shared by several contracts, with their French labels."""

from __future__ import annotations

import enum


class LabelledEnum(enum.StrEnum):
    """A coded value with a French label for people (``.label``)."""

    label: str

    def __new__(cls, value: str, label: str = "") -> LabelledEnum:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label or value
        return member


class DeclineReason(LabelledEnum):
    """Why an agency declines a referral (starting from les emplois de l'inclusion's list)."""

    DID_NOT_COME = "did_not_come", "Candidat non joignable / ne s'est pas présenté"
    DID_NOT_COME_TO_INTERVIEW = "did_not_come_to_interview", "Absent à l'entretien"
    HIRED_ELSEWHERE = "hired_elsewhere", "Candidat déjà en poste ailleurs"
    TRAINING = "training", "Candidat en formation"
    NOT_ELIGIBLE = "not_eligible", "Candidat non éligible"
    NOT_MOBILE = "not_mobile", "Candidat non mobile"
    NOT_INTERESTED = "not_interested", "Candidat non intéressé"
    LACKING_SKILLS = "lacking_skills", "Compétences insuffisantes pour le poste"
    INCOMPATIBLE = "incompatible", "Freins incompatibles avec le poste"
    NO_POSITION = "no_position", "Pas de poste ouvert"
    DUPLICATE = "duplicate", "Orientation en doublon"
    OTHER = "other", "Autre"


class ContractType(LabelledEnum):
    """Contract started by a placement or expected after a training (France Travail's codes in
    brackets where one exists: MIS, DIN are UNVERIFIED, see DOMAIN.md)."""

    CDI = "cdi", "CDI"
    CDI_INTERIMAIRE = "cdi_interimaire", "CDI intérimaire (DIN)"
    CDD = "cdd", "CDD"
    CDD_SAISONNIER = "cdd_saisonnier", "CDD saisonnier"
    MISSION = "mission", "Contrat de mission intérimaire (MIS)"
    PROFESSIONNALISATION = "professionnalisation", "Contrat de professionnalisation"
    APPRENTISSAGE = "apprentissage", "Contrat d'apprentissage"


class ImmersionObjet(LabelledEnum):
    """Objet of a PMSMP, exactly one of three (Code du travail L5135-1)."""

    DISCOVER = "discover", "Découvrir un métier ou un secteur d'activité"
    CONFIRM_PROJECT = "confirm_project", "Confirmer un projet professionnel"
    START_RECRUITMENT = "start_recruitment", "Initier une démarche de recrutement"


class TrainingKind(LabelledEnum):
    POEI = "poei", "Préparation opérationnelle à l'emploi individuelle (POEI)"
    POEC = "poec", "Préparation opérationnelle à l'emploi collective (POEC)"
