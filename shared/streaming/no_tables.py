"""faust's table manager for apps that keep no faust tables (every service of the platform:
its state lives in PostgreSQL).

faust's own ``TableManager.on_start`` sleeps one second before it finalises the tables, so
that a table declared late can still register; the app's conductor subscribes only after
that, so every consumer's start (each service's, and each test's) waited the second out.
With no tables there is nothing to wait for. A table added once the app has started is
still refused by faust ("Too late to add tables at this point")."""

from __future__ import annotations

from faust.tables.manager import TableManager


class TablelessManager(TableManager):
    async def on_start(self) -> None:
        """faust's start of the table manager, without its one-second wait for tables."""
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()
