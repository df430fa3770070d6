"""Alembic environment: the engine is handed over by :func:`bot.db.migrate` (no alembic.ini needed).

On SQLite, foreign keys are switched off while migrations run: batch migrations recreate tables, and
dropping the old ``appointments`` table with foreign keys on would cascade-delete its slot rows. The
PRAGMA only works outside a transaction, hence the explicit commit before migrating; afterwards the
database is checked (``PRAGMA foreign_key_check``) and foreign keys are switched back on.
"""

from __future__ import annotations

from alembic import context

from bot.errors import StoreError

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            context.configure(connection=connection, render_as_batch=sqlite)
            with context.begin_transaction():
                context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            connection.commit()
            if broken:
                raise StoreError(f"migration left {len(broken)} rows violating foreign keys")
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
