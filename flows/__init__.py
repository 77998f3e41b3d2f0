"""Prefect flows: the runbooks, composed from ``tasks``."""
