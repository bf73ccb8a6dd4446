"""Consent: the tamper-evident ledger and the decisions an app asks for."""
