"""Authentication (tokens, passwords, client systems) and authorisation (roles per organisation)."""
