"""The upload's comment and the marker in it that lets a retry find an earlier attempt.

Metrica's comment takes at most 255 characters: digits, Latin and Cyrillic letters and spaces.
The marker is derived from the object, its generation and the part alone, so any process that
retries finds the same one in `uploadings`.
"""

from __future__ import annotations

import hashlib
import string
from typing import Final

__all__ = [
    "COMMENT_MAX_CHARS",
    "clean_comment",
    "comment_has_marker",
    "make_comment",
    "make_marker",
]

#: Metrica's limit on the `comment` query parameter.
COMMENT_MAX_CHARS: Final = 255

_MARKER_PREFIX = "mo"
_MARKER_DIGITS = 12  # 36**12 ≈ 4.7e18: collisions between parts are not a practical concern
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_ASCII_ALLOWED = frozenset(string.digits + string.ascii_letters + " ")


def make_marker(bucket: str, name: str, generation: int, part: int, job: str = "") -> str:
    """A short tag that identifies one part of one generation of one object.

    Only digits and lower-case Latin letters, so it survives Metrica's comment rules; derived
    from the inputs alone, so a retry in another process finds the same marker. `job`, when
    given, tells apart jobs on the same generation with other settings (other parts).
    """
    fields = (bucket, name, str(generation), str(part), *((job,) if job else ()))
    key = "\x1f".join(fields).encode()
    number = int.from_bytes(hashlib.sha256(key).digest()[:10], "big") % (36**_MARKER_DIGITS)
    digits = []
    for _ in range(_MARKER_DIGITS):
        number, rest = divmod(number, 36)
        digits.append(_BASE36[rest])
    return _MARKER_PREFIX + "".join(reversed(digits))


def _comment_char_allowed(char: str) -> bool:
    # Metrica accepts digits, Latin and Cyrillic letters and spaces; str.isdigit/isalpha
    # alone would let through other scripts' digits and letters.
    return char in _ASCII_ALLOWED or ("\u0400" <= char <= "\u04ff" and char.isalpha())


def clean_comment(text: str) -> str:
    """`text` with every character Metrica refuses turned into a space, spaces collapsed."""
    kept = "".join(char if _comment_char_allowed(char) else " " for char in text)
    return " ".join(kept.split())


def make_comment(user_comment: str, marker: str) -> str:
    """The user's comment, cleaned and cut, then a space and the marker: at most 255 chars."""
    if not marker or not all(char in _BASE36 for char in marker):
        raise ValueError("a marker is digits and lower-case Latin letters only")
    room = COMMENT_MAX_CHARS - len(marker) - 1
    if room < 0:
        raise ValueError(f"a marker is at most {COMMENT_MAX_CHARS - 1} characters")
    text = clean_comment(user_comment)[:room].rstrip()
    return f"{text} {marker}" if text else marker


def comment_has_marker(comment: str, marker: str) -> bool:
    """True when `marker` is one of the comment's words (not merely a substring of one)."""
    return marker in comment.split()
