"""Running things: the pump daemon and its memory on disk, and the programmer's and PTM's client libraries."""
