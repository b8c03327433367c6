"""Pydantic models at every boundary: webhook, channel item, dialog item, step state, action result."""
