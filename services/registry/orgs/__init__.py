"""Organisations: the federation, societies and associations, their tree and their status."""
