"""Expert search: the document builder, the backends and the outbox that keeps them true."""
