"""Bulk onboarding: member, group-member and organisation lists from CSV and XLSX files.

Each import batch is atomic: its rows are merged chunk by chunk inside one transaction that
commits after the last chunk, so an interrupted import (Ctrl-C, killed process, lost connection)
leaves the data as if the batch never ran, and running the same command again completes it.
The batch record (`import_batch`) is written beforehand on its own and says `completed`,
`failed` or, once its process is gone, `interrupted`. See `service.py`.
"""
