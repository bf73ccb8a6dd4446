"""Glue between the Python client and web frameworks; like the client, no engine inside."""
