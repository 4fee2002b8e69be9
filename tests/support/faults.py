"""A daemon config whose source has two known faults, for the signal-quality checks."""

FLAT_C3_RAILED_O2 = """
[source]
kind = "faulty"
channels = 8

[source.faulty]
wraps = "synthetic"
flat_channels = [2]     # C3
railed_channels = [7]   # O2

[source.faulty.options]
alpha = false
"""
