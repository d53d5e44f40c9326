"""The talent and member registry: organisations, people, memberships and the API over them."""
