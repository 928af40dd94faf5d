"""The database: the ORM's table metadata, the read pool of the hot path, the standby, the write engine, the
placeholders of composed statements."""
