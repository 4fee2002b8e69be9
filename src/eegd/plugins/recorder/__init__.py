"""The recorder plugin: ``raw_eeg`` to BDF+, EDF+ or CSV files with a provenance sidecar.

``recorder`` the plugin, its run loop and requests, ``writer`` the recording in progress
(parts, gaps, markers, stopping), ``part`` one file of a recording, ``edf`` the
format as bytes, ``files`` the blocking file I/O and crash recovery of one file,
``library`` the recordings directory (listing, deleting, recovery at start), ``markers`` the
``POST /api/markers`` body, ``api`` its routes, ``settings`` the ``[recording]`` table and
the naming rules. docs/recording.md describes
the files and the guarantees.
"""

from eegd.plugins.recorder.recorder import Recorder
from eegd.plugins.recorder.settings import RecordingSettings

__all__ = ["Recorder", "RecordingSettings"]
