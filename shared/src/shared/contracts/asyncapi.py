"""The AsyncAPI 3.0 document of the platform, generated from the code's topics and event models.

Agency integrators build their client from it alone: every topic, its key, the CloudEvents headers
and each message's JSON Schema with an example. ``python -m shared.contracts.asyncapi`` prints it as
YAML (committed as ``docs/asyncapi.yaml``; a test fails when the committed file is stale), and every
service serves it at ``/asyncapi.yaml`` and ``/asyncapi.json``.
"""

from __future__ import annotations

import enum
import types
import typing
import uuid
from datetime import UTC, date, datetime
from typing import Any

import yaml
from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

from shared.contracts.base import EventData, declared_event_types
from shared.contracts.topics import (
    AGENCY_RESPONSES_TOPIC,
    TOPIC_TEMPLATES,
    TOPICS,
    TopicSpec,
)
from shared.envelope import JSON_CONTENT_TYPE, SPEC_VERSION

ASYNCAPI_VERSION = "3.0.0"
CONTRACT_VERSION = "1.0.0"
SCHEMA_REF = "#/components/schemas/{model}"

#: Topics the platform reads rather than writes (the others it publishes).
_RECEIVED = {AGENCY_RESPONSES_TOPIC}
_NETWORK_PARAMETER = {
    "description": "The agency network's id (enseigne): lower-case letters, digits, dashes.",
    "examples": ["interim-nord"],
}

_DESCRIPTION = """\
**FR** — Contrat des événements de la plateforme de coopération France Travail × Prism'emploi.
Chaque enregistrement Kafka est un CloudEvent 1.0 en mode binaire : la valeur est l'objet JSON
`data`, les attributs sont dans les en-têtes `ce_*` et `content-type: application/json`. La clé est
l'identifiant de l'agrégat (l'orientation pour les sujets `referral.*` et `agency.*`) : tous les
événements d'une orientation sont ordonnés dans une partition. Les types sont versionnés
(`….v1`) ; dans une version, les champs ne sont qu'ajoutés : ignorez ceux que vous ne connaissez
pas. Un enregistrement qui ne peut pas être traité est déposé dans `<sujet>.dlq` avec la raison dans
les en-têtes `dlq_*`.

**EN** — Event contract of the France Travail × Prism'emploi cooperation platform. Every Kafka
record is a CloudEvent 1.0 in binary content mode: the value is the JSON `data` object, the
attributes travel as `ce_*` headers plus `content-type: application/json`. The key is the aggregate
id (the referral for `referral.*` and `agency.*` topics), so one referral's events stay ordered
in one partition. Types are versioned (`….v1`); within a version fields are only ever added:
ignore the ones you do not know. A record that cannot be processed goes to `<topic>.dlq` with
the reason in `dlq_*` headers.
"""


#: French summary of every event type, for the people of France Travail and the agencies who read
#: the contract (the English one is the model's docstring). A test fails when one is missing.
FRENCH_SUMMARIES: dict[str, str] = {
    "coop.referral.sent.v1": "Un conseiller a orienté un demandeur d'emploi vers une agence.",
    "coop.referral.status_changed.v1": "La réponse d'une agence a été appliquée à l'orientation "
    "(prise en compte, acceptation, refus, entretien, attente, vivier, action préalable, "
    "réouverture, prise de poste, prolongation, embauche annulée, suivi).",
    "coop.referral.withdrawn.v1": "Le conseiller a retiré l'orientation.",
    "coop.referral.expired.v1": "L'orientation a expiré sans réponse de l'agence dans le délai.",
    "coop.referral.closed.v1": "La mission ou le contrat a pris fin : l'orientation est close.",
    "coop.referral.immersion_requested.v1": "Demande d'immersion (PMSMP) d'une agence, vérifiée "
    "par le service des orientations, transmise au service des dispositifs.",
    "coop.referral.acknowledged.v1": "L'agence a bien reçu l'orientation et va la traiter.",
    "coop.referral.accepted.v1": "L'agence retient le candidat pour le poste.",
    "coop.referral.declined.v1": "L'agence décline l'orientation, avec un motif codé.",
    "coop.referral.interview_scheduled.v1": "L'agence a programmé un entretien avec le candidat.",
    "coop.agency.immersion_requested.v1": "L'agence demande une immersion (PMSMP) pour le "
    "candidat dans une entreprise ; France Travail, prescripteur, la valide.",
    "coop.referral.placement_started.v1": "Le candidat a pris son poste : type de contrat, date "
    "de début, durée hebdomadaire.",
    "coop.referral.placement_ended.v1": "Fin de la mission ou du contrat.",
    "coop.referral.postponed.v1": "L'agence met l'orientation en attente jusqu'à une date où "
    "elle reviendra vers le candidat.",
    "coop.referral.pooled.v1": "L'agence inscrit le candidat dans son vivier pour ces métiers : "
    "pas encore de mission, une à venir.",
    "coop.referral.prior_to_hire_started.v1": "L'agence engage une action préalable à "
    "l'embauche : immersion (PMSMP), MRS ou POEI.",
    "coop.referral.hire_cancelled.v1": "L'embauche enregistrée est annulée (avant ou à la prise "
    "de poste).",
    "coop.referral.transferred.v1": "L'agence transfère l'orientation à une autre agence du même "
    "réseau, qui y répond désormais.",
    "coop.referral.reopened.v1": "L'agence rouvre une orientation qu'elle avait déclinée (dans "
    "le délai permis).",
    "coop.referral.placement_extended.v1": "La mission ou le contrat est prolongé jusqu'à une "
    "nouvelle date de fin.",
    "coop.referral.follow_up_answered.v1": "Réponse de l'agence au suivi « toujours en poste ? » "
    "à 1, 3 ou 6 mois.",
    "coop.referral.agency_changed.v1": "L'orientation a été transférée à une autre agence du "
    "réseau : elle la suit ; le conseiller en est informé.",
    "coop.referral.obsoleted.v1": "Le demandeur d'emploi a été embauché par une autre "
    "orientation : celle-ci est close, sans objet.",
    "coop.referral.closed_no_news.v1": "Acceptée ou entretien programmé, puis sans nouvelles de "
    "l'agence malgré la relance : l'orientation est close.",
    "coop.agency.referral_transferred.v1": "Une orientation du réseau passe d'une agence à une "
    "autre du même réseau : la nouvelle agence y répond désormais.",
    "coop.agency.referral_obsolete.v1": "Le candidat a été embauché par ailleurs : cessez de "
    "traiter l'orientation.",
    "coop.agency.referral_reminder.v1": "Relance : pas de nouvelles d'une orientation acceptée "
    "ou avec entretien ; dites où elle en est, sinon elle sera close.",
    "coop.agency.referral_closed_no_news.v1": "L'orientation est close faute de nouvelles après "
    "la relance : cessez de la traiter.",
    "coop.agency.placement_follow_up.v1": "Suivi du placement à 1, 3 ou 6 mois : le candidat "
    "est-il toujours en poste ? Répondez par coop.referral.follow_up_answered.v1.",
    "coop.agency.referral_received.v1": "Un conseiller France Travail oriente un candidat vers "
    "une agence du réseau (identité seulement avec le consentement du demandeur d'emploi).",
    "coop.agency.referral_withdrawn.v1": "Le conseiller a retiré l'orientation : cessez de la "
    "traiter.",
    "coop.agency.referral_expired.v1": "L'orientation a expiré sans réponse.",
    "coop.agency.immersion_rejected.v1": "La demande d'immersion de l'agence est refusée, avec "
    "la règle (et l'article du Code du travail) qu'elle enfreint.",
    "coop.immersion.requested.v1": "Une convention d'immersion (PMSMP) a été demandée.",
    "coop.immersion.rejected.v1": "La demande ou la convention d'immersion est refusée, avec le "
    "motif et l'article du Code du travail.",
    "coop.immersion.validated.v1": "Le conseiller du prescripteur a validé la convention : "
    "l'immersion aura lieu.",
    "coop.immersion.cancelled.v1": "La convention d'immersion est annulée, avec sa justification.",
    "coop.immersion.completed.v1": "L'immersion est terminée, avec son bilan (objectifs, "
    "embauche).",
    "coop.immersion.signature_requested.v1": "La convention est prête à signer (ou l'est de "
    "nouveau après une modification, ou un lien est renvoyé) : chaque partie reçoit son propre "
    "lien de signature par courriel.",
    "coop.immersion.signed.v1": "Toutes les parties ont signé la convention par leur lien : elle "
    "attend la validation du prescripteur.",
    "coop.immersion.assessment_requested.v1": "Le dernier jour de l'immersion est arrivé : le "
    "tuteur reçoit son lien pour en faire le bilan (ou un rappel).",
    "coop.immersion.assessment_shared.v1": "Le bilan du tuteur est enregistré : le bénéficiaire "
    "reçoit son lien pour le lire et en prendre connaissance.",
    "coop.immersion.incident_reported.v1": "Un incident ou un accident pendant l'immersion est "
    "signalé : le prescripteur en est informé dans la journée.",
    "coop.immersion.error_reported.v1": "Une partie signale une erreur dans la convention depuis "
    "sa page de signature : le conseiller prescripteur en est informé aussitôt pour la corriger.",
    "coop.mrs.evaluated.v1": "Un candidat a été évalué dans une session de recrutement par "
    "simulation (MRS).",
    "coop.training.enrolled.v1": "Un demandeur d'emploi est inscrit en POEI ou en POEC.",
    "coop.training.completed.v1": "La formation (POEI/POEC) est terminée : suivie ou non, "
    "embauche ou non, contrat obtenu.",
    "coop.notification.delivered.v1": "Un message a été remis à son destinataire sur un canal.",
    "coop.notification.failed.v1": "Un message n'a pas pu être remis sur un canal après sa "
    "dernière tentative.",
    "coop.job_seeker.erasure_requested.v1": "Effacement d'un demandeur d'emploi demandé (RGPD art. "
    "17) : chaque service efface ou pseudonymise ce qu'il détient et rend compte.",
    "coop.job_seeker.archive_noticed.v1": "Fiche inactive depuis 2 ans : elle sera anonymisée à "
    "la date dite, sauf si la structure propriétaire reprend l'accompagnement.",
    "coop.dispositifs.erasure_completed.v1": "Le service des dispositifs a effacé ce qu'il "
    "détenait de la personne : ce qu'il a fait, table par table.",
    "coop.notifications.erasure_completed.v1": "Le service des notifications a effacé ce qu'il "
    "détenait de la personne : ce qu'il a fait, table par table.",
    "coop.agency.candidate_identity_shared.v1": "Le demandeur d'emploi a consenti, après l'envoi, "
    "à ce que son identité soit transmise à l'agence pour cette orientation.",
    "coop.agency.candidate_identity_withdrawn.v1": "Le demandeur d'emploi a retiré son "
    "consentement : supprimez l'identité (et la RQTH) ou la seule RQTH du candidat.",
    "coop.agency.erasure_requested.v1": "La personne de ces orientations a demandé l'effacement de "
    "ses données : supprimez tout ce que vous détenez d'elle.",
    "coop.agency.hard_to_fill_offer_published.v1": "Une offre France Travail en tension (avec la "
    "source du signalement) sur un territoire et un métier où le réseau a des agences : elles "
    "peuvent y répondre.",
    "coop.agency.offer_answered.v1": "Une agence répond à une offre en tension : elle a des "
    "candidats, ou demande une PMSMP, une MRS ou une POEI pour cette offre.",
    "coop.offer.scheme_requested.v1": "La demande d'une agence pour une offre en tension (PMSMP,"
    " MRS ou POEI), appliquée par le service des orientations : le service des dispositifs"
    " l'ouvre pour les conseillers de l'offre. Sans candidat, donc sans donnée personnelle.",
    "coop.agency.job_dating_invitations.v1": "Un job dating ou une journée portes ouvertes où "
    "l'agence est présente, avec les candidats invités à la rencontrer (chacun une orientation).",
}


# A contract may carry its own French summary (``summary_fr``, issue 12): a new event type then
# needs no entry above.
FRENCH_SUMMARIES.update(
    {
        event_type: model.summary_fr  # type: ignore[attr-defined]
        for event_type, model in declared_event_types().items()
        if getattr(model, "summary_fr", "") and event_type not in FRENCH_SUMMARIES
    }
)


def build_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    specs = dict(TOPICS)
    for template, description in TOPIC_TEMPLATES.items():
        specs[template] = TopicSpec(template, description, retention_ms=30 * 24 * 3600 * 1000)
    by_topic: dict[str, list[type[EventData]]] = {name: [] for name in specs}
    for model in declared_event_types().values():
        by_topic.setdefault(model.topic, []).append(model)
        _add_schema(schemas, model)
        messages[model.__name__] = _message(model)
    messages["DeadLetter"] = _dead_letter_message()
    for name, spec in specs.items():
        channel_id = _channel_id(name)
        channels[channel_id] = _channel(spec, [m.__name__ for m in by_topic.get(name, [])])
        action = "receive" if name in _RECEIVED else "send"
        operations[f"{action}{channel_id[0].upper()}{channel_id[1:]}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": (
                f"The platform {'consumes' if action == 'receive' else 'publishes'} {name}."
            ),
            "messages": [
                {"$ref": f"#/channels/{channel_id}/messages/{m.__name__}"}
                for m in by_topic.get(name, [])
            ],
        }
        dlq = spec.dead_letter()
        dlq_id = _channel_id(dlq.name)
        channels[dlq_id] = _channel(dlq, ["DeadLetter"])
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Coopération France Travail × Prism'emploi — événements",
            "version": CONTRACT_VERSION,
            "description": _DESCRIPTION,
        },
        "defaultContentType": JSON_CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The local broker started by `make up` (KRaft, single node).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so the document reads like its source."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


def render_yaml() -> str:
    return yaml.dump(
        build_document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )


def _channel_id(topic: str) -> str:
    head, *rest = topic.replace("-", ".").replace("{network_id}", "network").split(".")
    return head + "".join(part.capitalize() for part in rest)


def _channel(spec: TopicSpec, message_names: list[str]) -> dict[str, Any]:
    configuration: dict[str, Any] = {"cleanup.policy": [spec.cleanup_policy]}
    if spec.retention_ms is not None:
        configuration["retention.ms"] = spec.retention_ms
    bindings: dict[str, Any] = {"topic": spec.name, "topicConfiguration": configuration}
    if spec.partitions is not None:
        bindings["partitions"] = spec.partitions
    channel: dict[str, Any] = {
        "address": spec.name,
        "description": spec.description,
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in message_names},
        "bindings": {"kafka": {**bindings, "bindingVersion": "0.5.0"}},
    }
    if "{network_id}" in spec.name:
        channel["parameters"] = {"network_id": _NETWORK_PARAMETER}
    return channel


def _add_schema(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    schema = model.model_json_schema(ref_template=SCHEMA_REF)
    for name, definition in schema.pop("$defs", {}).items():
        existing = schemas.get(name)
        if existing is not None and existing != definition:
            raise ValueError(f"two different schemas named {name}")
        schemas[name] = definition
    schemas[model.__name__] = schema


def _headers_schema(event_type: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "content-type"],
        "properties": {
            "ce_specversion": {"type": "string", "const": SPEC_VERSION},
            "ce_id": {
                "type": "string",
                "description": "Unique id of the event; consumers deduplicate on it.",
            },
            "ce_source": {
                "type": "string",
                "description": "Who produced it (`/coop/referral`, `/agencies/<network>`…).",
            },
            "ce_type": {"type": "string", "const": event_type},
            "ce_time": {"type": "string", "format": "date-time"},
            "ce_subject": {"type": "string", "description": "e.g. `referrals/<id>`."},
            "content-type": {"type": "string", "const": JSON_CONTENT_TYPE},
            "traceparent": {
                "type": "string",
                "description": "W3C trace context, optional.",
                "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            },
        },
    }


def _message(model: type[EventData]) -> dict[str, Any]:
    doc = " ".join((model.__doc__ or model.__name__).split())
    example = example_data(model)
    french = FRENCH_SUMMARIES.get(model.event_type, "")
    return {
        "name": model.event_type,
        "title": model.__name__,
        "summary": doc,
        "description": f"**FR** — {french}\n\n**EN** — {doc}",
        "contentType": JSON_CONTENT_TYPE,
        "headers": _headers_schema(model.event_type),
        "payload": {"$ref": SCHEMA_REF.format(model=model.__name__)},
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": f"The aggregate id: the value of `{model.key_field}`.",
                },
                "bindingVersion": "0.5.0",
            }
        },
        "examples": [
            {
                "name": model.__name__,
                "headers": {
                    "ce_specversion": SPEC_VERSION,
                    "ce_id": str(uuid.UUID(int=1)),
                    "ce_source": "/coop/example",
                    "ce_type": model.event_type,
                    "ce_time": "2026-03-04T09:30:00Z",
                    "content-type": JSON_CONTENT_TYPE,
                },
                "payload": example,
            }
        ],
    }


def _dead_letter_message() -> dict[str, Any]:
    header = {"type": "string"}
    return {
        "name": "dead-letter",
        "title": "DeadLetter",
        "summary": "The original record, unchanged (key, value, headers), plus dlq_* headers.",
        "headers": {
            "type": "object",
            "required": ["dlq_reason", "dlq_error", "dlq_original_topic"],
            "properties": {
                "dlq_reason": {
                    "type": "string",
                    "enum": [
                        "unreadable_envelope",
                        "unknown_event_type",
                        "invalid_data",
                        "rejected",
                        "retries_exhausted",
                    ],
                },
                "dlq_error": header,
                "dlq_original_topic": header,
                "dlq_original_partition": header,
                "dlq_original_offset": header,
                "dlq_consumer": header,
                "dlq_failed_at": {"type": "string", "format": "date-time"},
            },
        },
        "payload": {"description": "The original record's value, as it was."},
    }


# -- examples ------------------------------------------------------------------------------------

_EXAMPLE_STRINGS = {
    "rome_code": "H2913",
    "host_siret": "73282932000074",
    "agency_id": "agc-interim-nord-lille",
    "network_id": "interim-nord",
    "departement": "59",
    "structure_code": "75101",
    "counsellor_id": "conseiller.dupont",
    "to_agency_id": "agc-interim-nord-arras",
    "from_agency_id": "agc-interim-nord-lille",
    "rome_codes": ["H2913", "N1103"],
}


def example_data(model: type[BaseModel]) -> dict[str, Any]:
    """A valid example of ``model`` (required and optional fields filled), as JSON."""
    values = {name: _example(name, field) for name, field in model.model_fields.items()}
    return model.model_validate(values).model_dump(mode="json")


def _example(name: str, field: FieldInfo) -> Any:
    if name in _EXAMPLE_STRINGS:
        return _EXAMPLE_STRINGS[name]
    return _example_for_type(name, field.annotation)


def _example_for_type(name: str, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:  # the example of the type it narrows
        return _example_for_type(name, typing.get_args(annotation)[0])
    if annotation is AwareDatetime:  # a datetime with its time zone (the agency contracts)
        return datetime(2026, 3, 4, 9, 30, tzinfo=UTC).isoformat()
    if origin is typing.Literal:  # the first value allowed
        return typing.get_args(annotation)[0]
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _example_for_type(name, options[0])
    if origin is dict:
        return {}
    if origin is list:
        return []
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return example_data(annotation)
        if issubclass(annotation, enum.Enum):
            return next(iter(annotation)).value
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, int):
            return 35
        if issubclass(annotation, float):
            return 35.0
        if issubclass(annotation, uuid.UUID):
            return str(uuid.uuid5(uuid.NAMESPACE_URL, name))
        if issubclass(annotation, datetime):
            return datetime(2026, 3, 4, 9, 30, tzinfo=UTC).isoformat()
        if issubclass(annotation, date):
            return date(2026, 3, 16).isoformat()
        if issubclass(annotation, str):
            return f"exemple de {name}"
    return None


if __name__ == "__main__":
    print(render_yaml(), end="")
