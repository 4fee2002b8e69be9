"""Acquisition: a session's loop, its reader thread, where each opening of a source is placed
in its session, its clock model, its sample ledger, and the events stamped by its clock."""
