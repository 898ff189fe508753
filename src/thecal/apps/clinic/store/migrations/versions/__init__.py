"""The clinic database's revisions, oldest first."""
