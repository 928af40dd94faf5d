"""Visits: a worker scanning the door's QR code, counted once per client, site and hour; usage and idle stations."""
