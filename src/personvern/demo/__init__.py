"""The demo service: a synthetic mentoring app (seed 000) with Norwegian customers."""
