"""Command-line entry points: thin wrappers that call the core and print."""
