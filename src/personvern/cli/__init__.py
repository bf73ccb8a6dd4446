"""Command-line entry points: thin wrappers that call the core and print.

Each command imports the core inside its function, so ``personvern --help`` and
``personvern check`` load only what they use (about 100 and 200 ms; benchmarks/check.py).

The command modules do without ``from __future__ import annotations``: Typer reads every
command's signature whenever it builds the command tree (``--help`` included), and string
annotations it would compile and evaluate one by one, a fifth of ``--help``'s time. Names
imported only for type checking are quoted where they are used.
"""
