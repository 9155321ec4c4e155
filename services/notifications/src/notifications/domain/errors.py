"""The notifications service's refusals: the shared domain errors (mapped to problem+json by the
shared app factory), with the titles its API has always answered."""

from __future__ import annotations

from shared.domain.errors import NotFound


class MessageNotFound(NotFound):
    title = "Message introuvable"


class DeliveryNotFound(NotFound):
    title = "Envoi introuvable"


class RecipientNotFound(NotFound):
    title = "Destinataire inconnu"
