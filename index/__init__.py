"""Turn articles into a searchable, persisted index."""
