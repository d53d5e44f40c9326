"""Audit log: who read or did what sensitive thing, kept for the platform operator."""
