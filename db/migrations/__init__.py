"""Alembic migrations for the store's schema (``db/tables.py``)."""
