"""Governance bodies of organisations (理事会, 常务理事会, 监事会): terms, seats, composition."""
