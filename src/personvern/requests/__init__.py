"""Data-subject requests: deadlines, the data map, and fulfilment."""
