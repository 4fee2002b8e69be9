"""The session ``hello`` a client gets first and again whenever it changes.

It is built from events alone: the session (id, channels, rate, time anchor) from the
latest ``source_connected`` system event, the spectrum axis and bands from the latest
``fft`` packet. It is rebuilt only when either changes. Its ``topics`` (what a client may
subscribe to) are the server's, fixed when it starts, but for ``aux``, listed only while the
session has an aux stream (which ``aux`` then describes).
"""

from __future__ import annotations

from collections.abc import Iterable

from eegd.events import Event, FftPacket, SourceSession, SystemEvent, Topic
from eegd.net.protocol import AuxInfo, Hello, Spectrum

__all__ = ["HelloTracker"]


class HelloTracker:
    """Keeps the current hello; ``note`` says when clients must be sent a new one."""

    def __init__(self, topics: Iterable[str] | None = None) -> None:
        self._topics = tuple(topic.label for topic in Topic) if topics is None else tuple(topics)
        self._session: SourceSession | None = None
        self._spectrum: Spectrum | None = None
        self._hello: Hello | None = None

    @property
    def current(self) -> Hello | None:
        """The hello for the current session, or None before any source has connected."""
        return self._hello

    def note(self, event: Event) -> Hello | None:
        """Learn what ``event`` says; the new hello if it changed, else None."""
        if isinstance(event, FftPacket):
            if not self._note_spectrum(event):
                return None
        elif isinstance(event, SystemEvent) and event.session is not None:
            session = event.session
            if self._session is not None and _shown(session) == _shown(self._session):
                return None  # the same session resumed: the hello says nothing new
            self._session = session
        else:
            return None
        return self._rebuild()

    def _note_spectrum(self, packet: FftPacket) -> bool:
        """Take the frequency axis and bands of ``packet`` if they differ from the known ones."""
        known = self._spectrum
        if (
            known is not None
            and known.fft_size == packet.fft_size
            and known.sample_rate == packet.sample_rate
            and len(known.freqs) == len(packet.freqs)
            and len(known.bands) == len(packet.bands)
            and all(
                (band.name, band.low, band.high) == tuple(wanted)
                for band, wanted in zip(known.bands, packet.bands, strict=True)
            )
        ):
            return False
        self._spectrum = Spectrum.from_packet(packet)
        return True

    def _rebuild(self) -> Hello | None:
        session = self._session
        if session is None:
            return None
        aux = session.aux
        self._hello = Hello(
            session=session.id,
            sample_rate=session.sample_rate,
            channels=session.channels,
            time_anchor_us=session.time_anchor_us,
            spectrum=self._spectrum,
            topics=self._topics if aux else tuple(t for t in self._topics if t != Topic.AUX.label),
            aux=AuxInfo.from_stream(aux) if aux else None,
        )
        return self._hello


def _shown(session: SourceSession) -> tuple[object, ...]:
    """What the hello shows of a session."""
    return (session.id, session.sample_rate, session.channels, session.time_anchor_us, session.aux)
