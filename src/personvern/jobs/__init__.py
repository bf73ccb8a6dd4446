"""Background jobs ``personvern serve`` runs beside the web app: thin loops that call the
core on a schedule (the daily retention sweep). Like ``web`` and ``cli``, nothing below
imports them."""
