"""pydantic contracts shared by every layer: canonical employees, connections, work items, table records."""
