"""The interface every sample source implements, and the block of samples it returns.

Sources are blocking by nature (SPI, vendor SDKs, sockets): ``read`` waits until the
requested samples exist. The acquisition loop runs it in a thread.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from types import TracebackType

import numpy as np
import numpy.typing as npt

__all__ = ["SampleBlock", "Source"]


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """Consecutive samples from a source, channels × samples.

    ``first_sample`` is the index of the block's first sample since the source opened;
    a jump from the previous block's end means the source lost samples.
    ``raw`` holds the ADC counts and ``volts`` the same samples in volts.
    """

    first_sample: int
    raw: npt.NDArray[np.int32]
    volts: npt.NDArray[np.float32]

    @property
    def n_samples(self) -> int:
        """Samples per channel."""
        return int(self.volts.shape[1])


class Source(abc.ABC):
    """A device or generator of multichannel EEG at a fixed sample rate."""

    @property
    @abc.abstractmethod
    def sample_rate(self) -> float:
        """Samples per second per channel."""

    @property
    @abc.abstractmethod
    def channel_names(self) -> tuple[str, ...]:
        """One label per channel, in row order."""

    @abc.abstractmethod
    def open(self) -> None:
        """Connect to the device and start sampling; raises ``SourceError``."""

    @abc.abstractmethod
    def read(self, n_samples: int) -> SampleBlock:
        """Block until the next ``n_samples`` are available and return them."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop sampling and release the device; safe to call twice."""

    def __enter__(self) -> Source:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
