"""Ratings from the door: stars, tags and a comment, one per client and site per 30 days; call-backs on bad ones."""
