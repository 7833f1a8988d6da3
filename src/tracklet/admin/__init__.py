"""Maintenance of a store as a whole, run from the command line next to (or instead of) a server."""
