"""Changes to the running daemon: the source switch, a plugin's options, a reloaded
configuration (``changes``) and the playback controls built on the source switch
(``playback``)."""
