"""Database: engine factory, SQLAlchemy 2 typed models, Alembic migrations, partitions."""
