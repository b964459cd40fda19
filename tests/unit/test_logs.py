"""JSON logs: one object per line, with the file's context, never showing the token."""

from __future__ import annotations

import io
import json

from metrika_offline import logs


def test_json_lines_with_context_and_masked_secret() -> None:
    stream = io.StringIO()
    logger = logs.configure("DEBUG", stream)
    logs.register_secret("y0_top_secret_token")
    with logs.log_context(bucket="b", object="incoming/a.csv", generation="7"):
        logger.getChild("t").warning("sent with y0_top_secret_token", extra={"part": 2})
    line = json.loads(stream.getvalue().strip())
    assert line["severity"] == "WARNING"
    assert line["message"] == "sent with ***"
    assert (line["bucket"], line["object"], line["generation"], line["part"]) == (
        "b",
        "incoming/a.csv",
        "7",
        2,
    )
