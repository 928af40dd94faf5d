"""Inspections against the standard (SPEC §2) and the star level they set."""
