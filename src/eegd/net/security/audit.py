"""The audit trail: every change asked for, who asked (role, how, address), and its fate.

Each entry is one log line (``eegd.audit``; info when accepted, warning when refused) and an
``audit`` system event on the bus, so that every client, the kiosk first, can say "filter
changed by operator at 10:42". What an entry says of the request is its method and path (or
message) and a short excerpt of its body, control characters escaped so that no request can
write a line of its own; sign-ins are not changes, and their tokens are never written
anywhere.

Refusals are aggregated (``eegd.net.security.refusals.Throttle``): one entry per route, address and
reason and minute, its ``count`` saying how many refusals it stands for, so a script
refused 5,000 times writes a line or two and sends every viewer an event or two, not 5,000.
Accepted changes are each an entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from eegd.bus import EventBus
from eegd.errors import one_line
from eegd.events import SystemEvent, SystemEventKind
from eegd.net.security.refusals import Throttle
from eegd.net.security.roles import Principal

__all__ = ["EXCERPT_CHARACTERS", "Auditor"]

logger = logging.getLogger("eegd.audit")

#: The longest excerpt of a request's body an entry keeps.
EXCERPT_CHARACTERS = 160


def _clipped(text: str) -> str:
    if len(text) <= EXCERPT_CHARACTERS:
        return text
    return text[: EXCERPT_CHARACTERS - 3] + "..."


@dataclass(slots=True)
class Auditor:
    """Writes audit entries to the log and, when it has one, the bus."""

    bus: EventBus | None = None
    accepted: int = 0
    refused: int = 0
    throttle: Throttle = field(default_factory=Throttle)
    """Holds back repeated refusals of one route, address and reason."""

    def record(
        self,
        principal: Principal,
        action: str,
        accepted: bool,
        outcome: str,
        body: str = "",
        *,
        route: str = "",
        reason: str = "",
    ) -> None:
        """Note one change: ``action`` (``PUT /api/filter``, ``ws record``), whether it was
        carried out, and ``outcome`` (the status, or why it was refused). A refusal is
        aggregated with the others of its ``route`` (default: ``action``), address and
        ``reason`` (default: the outcome's first word, its status)."""
        if accepted:
            self.accepted += 1
            self._entry(principal, action, True, outcome, body, 1)
            return
        self.refused += 1
        key = (route or action, principal.address, reason or outcome.partition(" ")[0])
        self.throttle(
            key,
            lambda count: self._entry(principal, action, False, outcome, body, count),
        )

    def _entry(
        self,
        principal: Principal,
        action: str,
        accepted: bool,
        outcome: str,
        body: str,
        count: int,
    ) -> None:
        excerpt = _clipped(body)
        verdict = "accepted" if accepted else "refused"
        if count > 1:
            verdict += f" {count} times in the last {self.throttle.interval:g} s, the last"
        logger.log(
            logging.INFO if accepted else logging.WARNING,
            "%s by %s (%s) from %s: %s%s%s",
            one_line(action),
            principal.role.value,
            principal.via,
            principal.address,
            verdict,
            f" ({one_line(_clipped(outcome))})" if outcome else "",
            f": {one_line(excerpt)}" if excerpt else "",
        )
        if self.bus is not None:
            self.bus.publish(
                SystemEvent.now(
                    SystemEventKind.AUDIT,
                    action=action,
                    role=principal.role.value,
                    via=principal.via,
                    address=principal.address,
                    accepted=accepted,
                    outcome=outcome,
                    count=count,
                )
            )
