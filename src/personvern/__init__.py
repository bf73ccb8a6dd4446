"""Personvern: the privacy engine a small online service runs beside its app."""
