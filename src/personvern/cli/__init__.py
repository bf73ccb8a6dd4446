"""Command-line entry points: thin wrappers that call the core and print.

Each command imports the core inside its function, so ``personvern --help`` and
``personvern check`` load only what they use (about 100 and 200 ms; benchmarks/check.py).
"""
