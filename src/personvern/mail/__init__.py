"""Outgoing e-mail: an outbox table, sent over SMTP by a job."""
