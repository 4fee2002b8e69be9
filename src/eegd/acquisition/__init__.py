"""Acquisition: a session's loop, its reader thread, its clock model, its sample ledger, and
the events stamped by its clock."""
