"""The checker: bytes in, a report and parts out. Pure: no I/O of its own, no network."""
