"""LiT Photos engine: catalog, locked image tower, vector index, search. Never imports Qt."""
