"""Cross-cutting pieces: settings, database, errors, pagination, identifiers and PII protection."""
