"""The session ``hello`` a client gets first and again whenever it changes.

It is built from the acquisition's current session (channels, rate, time anchor) and the
spectrum axis of the latest ``fft`` packet, and rebuilt only when either changes.
"""

from __future__ import annotations

from collections.abc import Callable

from eegd.acquisition import Session
from eegd.dsp.spectrum import BANDS
from eegd.events import FftPacket
from eegd.net.protocol import Hello, Spectrum

__all__ = ["HelloTracker"]


class HelloTracker:
    """Keeps the current hello; ``update`` says when clients must be sent a new one."""

    def __init__(self, session: Callable[[], Session | None]) -> None:
        self._session = session
        self._spectrum: Spectrum | None = None
        self._hello: Hello | None = None

    def note_spectrum(self, packet: FftPacket) -> None:
        """Take the frequency axis of ``packet`` if it differs from the known one."""
        known = self._spectrum
        if (
            known is None
            or known.fft_size != packet.fft_size
            or known.sample_rate != packet.sample_rate
            or len(known.freqs) != len(packet.freqs)
        ):
            self._spectrum = Spectrum.from_packet(packet, BANDS)

    def current(self) -> Hello | None:
        """The hello for the current session, or None before the source has opened."""
        self.update()
        return self._hello

    def update(self) -> Hello | None:
        """A new hello if the session or spectrum changed since the last call, else None."""
        session = self._session()
        if session is None:
            return None
        hello = self._hello
        if hello is not None and hello.session == session.id and hello.spectrum is self._spectrum:
            return None
        self._hello = Hello(
            session=session.id,
            sample_rate=session.sample_rate,
            channels=session.channel_names,
            time_anchor_us=session.time_anchor_us,
            spectrum=self._spectrum,
        )
        return self._hello
