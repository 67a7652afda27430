"""SQL storage (SQLite and PostgreSQL from one model set)."""
