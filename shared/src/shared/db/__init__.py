"""Database access shared by the services: engine and sessions, platform tables, migrations."""

from shared.db.database import Database
from shared.db.tables import PlatformTables, platform_tables

__all__ = ["Database", "PlatformTables", "platform_tables"]
