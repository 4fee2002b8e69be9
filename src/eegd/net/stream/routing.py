"""Which client gets which topic, and how: every event, a min/max envelope at a max_rate, or
the old daemon's encoding (the legacy ``/ws/data``).

Pure bookkeeping, no sockets: the ConnectionManager asks it where each event goes.
Clients of one topic that asked for the same ``max_rate`` share one decimator, so one
envelope encoding serves them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from eegd.events import AnyTopic, Topic
from eegd.net.stream.decimation import EnvelopeDecimator

__all__ = ["DECIMATABLE", "EnvelopeGroup", "RoutingTable"]

#: Topics whose clients may ask for a min/max envelope instead of every sample.
DECIMATABLE = frozenset({Topic.RAW_EEG, Topic.FILTERED_EEG})


@dataclass(slots=True)
class EnvelopeGroup:
    """The clients of one topic that asked for the same ``max_rate``."""

    decimator: EnvelopeDecimator
    client_ids: set[int] = field(default_factory=set)


class RoutingTable:
    """``topic -> client ids`` for full-rate clients and for legacy ones, and envelope groups
    per topic; a plugin's own topic has its entries from its first client on."""

    def __init__(self) -> None:
        self._full_rate: dict[AnyTopic, set[int]] = {topic: set() for topic in Topic}
        self._legacy: dict[AnyTopic, set[int]] = {topic: set() for topic in Topic}
        self._envelopes: dict[AnyTopic, dict[float, EnvelopeGroup]] = {
            topic: {} for topic in DECIMATABLE
        }

    def add(
        self, client_id: int, topic: AnyTopic, max_rate: float | None = None, legacy: bool = False
    ) -> None:
        """Route ``topic`` to the client: in the old daemon's encoding when ``legacy``, an EEG
        topic with ``max_rate`` as an envelope."""
        self.remove(client_id, topic)
        self._full_rate.setdefault(topic, set())
        self._legacy.setdefault(topic, set())
        if legacy:
            self._legacy[topic].add(client_id)
            return
        if max_rate is None or topic not in DECIMATABLE:
            self._full_rate[topic].add(client_id)
            return
        groups = self._envelopes[topic]
        group = groups.get(max_rate)
        if group is None:
            group = groups[max_rate] = EnvelopeGroup(EnvelopeDecimator(max_rate))
        group.client_ids.add(client_id)

    def remove(self, client_id: int, topic: AnyTopic) -> None:
        """Stop routing ``topic`` to the client, whichever way it was routed."""
        self._full_rate.get(topic, set()).discard(client_id)
        self._legacy.get(topic, set()).discard(client_id)
        groups = self._envelopes.get(topic, {})
        for max_rate, group in list(groups.items()):
            group.client_ids.discard(client_id)
            if not group.client_ids:
                del groups[max_rate]

    def wanted(self, topic: AnyTopic) -> bool:
        """Whether any client wants ``topic`` in any form."""
        return (
            bool(self._full_rate.get(topic))
            or bool(self._legacy.get(topic))
            or bool(self._envelopes.get(topic))
        )

    def full_rate(self, topic: AnyTopic) -> set[int]:
        """Clients that get every event of ``topic``."""
        return self._full_rate.get(topic, set())

    def legacy(self, topic: AnyTopic) -> set[int]:
        """Clients that get every event of ``topic`` in the old daemon's encoding."""
        return self._legacy.get(topic, set())

    def envelope_groups(self, topic: AnyTopic) -> Iterable[EnvelopeGroup]:
        """The envelope groups of ``topic``, one per distinct ``max_rate``."""
        return self._envelopes.get(topic, {}).values()

    def clients(self, topic: AnyTopic) -> int:
        """How many clients get ``topic``, in any form."""
        enveloped = sum(len(group.client_ids) for group in self.envelope_groups(topic))
        return len(self.full_rate(topic)) + len(self.legacy(topic)) + enveloped
