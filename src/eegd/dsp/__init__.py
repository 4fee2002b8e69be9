"""Pure signal processing for EEG (numpy/scipy only): the band table (``bands``), streaming
filters (``filters``), sliding spectra (``spectrum``) and the decimator (``decimate``).

The package imports none of them itself, so the events, which read the band table, do not
load scipy.
"""
