"""Lifecycles as data: a table of transitions (sources, allowed actors, target) and one function
that refuses what is not allowed. Every stateful thing of the platform — referral, immersion,
MRS candidate, enrolment, pathway proposal, delivery — declares its table with this module.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.domain.errors import TransitionRefused

S = TypeVar("S", bound=Hashable)


def _label(value: object) -> str:
    if value is None:
        return "(création)"
    label = getattr(value, "label", None)
    if isinstance(label, str) and label:
        return label
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


@dataclass(frozen=True, slots=True)
class Transition(Generic[S]):
    """``action`` moves a thing from any of ``sources`` to ``target``, done by one of ``actors``.

    ``None`` in ``sources`` means the action creates the thing.
    """

    action: str
    sources: frozenset[S | None]
    target: S
    actors: frozenset[str]
    #: What the timeline shows (French); empty: the action's name.
    label: str = ""
    justification_required: bool = False


class TransitionTable(Generic[S]):
    """The transitions of one lifecycle; (action, source) names at most one transition."""

    def __init__(self, name: str, transitions: Iterable[Transition[S]]) -> None:
        self.name = name
        self.transitions: tuple[Transition[S], ...] = tuple(transitions)
        self._index: dict[tuple[str, S | None], Transition[S]] = {}
        for row in self.transitions:
            for source in row.sources:
                key = (str(row.action), source)
                if key in self._index:
                    raise ValueError(f"{name}: {row.action!r} declared twice from {source!r}")
                self._index[key] = row
        self._actions = frozenset(str(row.action) for row in self.transitions)

    def __repr__(self) -> str:
        return f"TransitionTable({self.name!r}, {len(self.transitions)} transitions)"

    @classmethod
    def by_target(
        cls,
        name: str,
        rows: Mapping[S, tuple[Iterable[S | None], Iterable[str]]],
        *,
        justification_required: Iterable[S] = (),
        labels: Mapping[S, str] | None = None,
    ) -> TransitionTable[S]:
        """A table keyed by target status (immersion-facile's style): the action is the target's
        value."""
        needs = frozenset(justification_required)
        return cls(
            name,
            (
                Transition(
                    action=str(getattr(target, "value", target)),
                    sources=frozenset(sources),
                    target=target,
                    actors=frozenset(str(a) for a in actors),
                    label=(labels or {}).get(target, ""),
                    justification_required=target in needs,
                )
                for target, (sources, actors) in rows.items()
            ),
        )

    @property
    def actions(self) -> frozenset[str]:
        return self._actions

    def find(self, action: str, current: S | None) -> Transition[S] | None:
        return self._index.get((str(action), current))

    def allowed(self, current: S | None, actor: str | None = None) -> list[Transition[S]]:
        """The transitions open from ``current`` (to ``actor``, if given)."""
        return [
            row
            for row in self.transitions
            if current in row.sources and (actor is None or str(actor) in row.actors)
        ]

    def check(
        self, action: str, current: S | None, actor: str, *, justification: str | None = None
    ) -> Transition[S]:
        """The transition ``actor`` may take with ``action`` from ``current``, or a
        :class:`TransitionRefused` saying why not (in French)."""
        action = str(action)
        if action not in self.actions:
            raise TransitionRefused(
                f"{self.name} : action « {action} » inconnue.", code="unknown-action"
            )
        row = self.find(action, current)
        said = self._said(action)
        if row is None:
            raise TransitionRefused(
                f"{self.name} : « {said} » impossible depuis le statut « {_label(current)} »."
            )
        if str(actor) not in row.actors:
            raise TransitionRefused(
                f"{self.name} : « {said} » ne peut pas être fait par « {_label(actor)} ».",
                code="actor-not-allowed",
            )
        if row.justification_required and not (justification and justification.strip()):
            raise TransitionRefused(
                f"{self.name} : « {said} » demande une justification.",
                code="justification-required",
            )
        return row

    def _said(self, action: str) -> str:
        """How people read an action: its French label where the table gives one."""
        for row in self.transitions:
            if str(row.action) == action and row.label:
                return row.label
        return action
