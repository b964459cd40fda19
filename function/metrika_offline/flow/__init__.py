"""The exactly-once flow: events, routing, jobs, the pipeline, pending uploads, the poll."""
