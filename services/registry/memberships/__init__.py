"""Memberships: a person's standing in one organisation, with grade, number and dates."""
