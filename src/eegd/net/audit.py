"""The audit trail: every change asked for, who asked (role, how, address), and its fate.

Each entry is one log line (``eegd.audit``; info when accepted, warning when refused) and an
``audit`` system event on the bus, so that every client, the kiosk first, can say "filter
changed by operator at 10:42". What an entry says of the request is its method and path (or
message) and a short excerpt of its body, control characters escaped so that no request can
write a line of its own; sign-ins are not changes, and their tokens are never written
anywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eegd.bus import EventBus
from eegd.errors import one_line
from eegd.events import SystemEvent, SystemEventKind
from eegd.net.roles import Principal

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

    def record(
        self, principal: Principal, action: str, accepted: bool, outcome: str, body: str = ""
    ) -> None:
        """Note one change: ``action`` (``PUT /api/filter``, ``ws record``), whether it was
        carried out, and ``outcome`` (the status, or why it was refused)."""
        excerpt = _clipped(body)
        verdict = "accepted" if accepted else "refused"
        if accepted:
            self.accepted += 1
        else:
            self.refused += 1
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
                )
            )
