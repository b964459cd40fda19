"""The columns of BASIC, CALLS and CHATS files, as one table of data (see docs/metrika-api.md).

`_TABLE` says, for each column Metrica knows, what kind of value it holds and whether each type
requires it, allows it or does not have it. `_GROUPS` holds the at-least-one rules and
`_DEDUPE_KEYS` the columns that identify a conversion. Everything else here derives from them.

Header matching is forgiving: case, spaces, underscores, hyphens and dots are ignored
(`client_id`, `CLIENTID` and `ClientID` are all ClientId), plus a few explicit aliases. Output
always uses one canonical spelling per type: the API pages' `ClientId` for BASIC and CALLS, the
chat pages' `ClientID` for CHATS.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from metrika_offline.types import ConversionType


class Kind(enum.StrEnum):
    """What a column holds; each kind has one checker in `values/`."""

    UNIX_TIME = "unix-time"  # Unix seconds, UTC; dates and times are converted
    PRICE = "price"  # decimal with a full stop, not negative
    CURRENCY = "currency"  # ISO 4217
    FLAG = "flag"  # 1 or 0
    DURATION = "duration"  # whole seconds, not negative
    TAG = "tag"  # free text, at most 100 characters
    URL = "url"  # absolute http(s)
    PHONE = "phone"  # + and digits
    CHAT_PLATFORM = "chat-platform"  # whatsapp, telegram, viber
    GOAL = "goal"  # the goal's identifier (not its display name)
    NUMERIC_ID = "numeric-id"  # Metrica's own numeric IDs
    TEXT = "text"  # anything: surrounding whitespace is trimmed


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of one type."""

    name: str  # canonical spelling, written on output
    kind: Kind
    required: bool = False  # the header must have it and no row may leave it empty
    aliases: tuple[str, ...] = ()  # other accepted names (compared like names, see `match_key`)

    @property
    def blank_when_invalid(self) -> bool:
        """An invalid value may be left empty, the row kept: optional, not a date, not one of
        Metrica's IDs (see `blanking.py`)."""
        return not self.required and self.kind not in _NEVER_BLANKED


@dataclasses.dataclass(frozen=True)
class Group:
    """At least one of `columns` must be present in the header and non-empty in each row."""

    columns: tuple[str, ...]
    code: str
    is_error: bool  # False: only a warning (an unattributed chat is still a chat)


@dataclasses.dataclass(frozen=True)
class TypeRules:
    """Everything the checker needs to know about one conversion type."""

    type: ConversionType
    columns: tuple[Column, ...]
    groups: tuple[Group, ...]
    dedupe_key: tuple[str, ...]  # rows equal on these columns are duplicates

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


#: Kinds whose invalid values reject the row even where the column is optional.
_NEVER_BLANKED = frozenset({Kind.UNIX_TIME, Kind.NUMERIC_ID})

#: Columns left empty together when either is invalid: a price without its currency (or the
#: other way round) means nothing, and Metrica sends neither.
BLANK_TOGETHER: tuple[tuple[str, str], ...] = (("Price", "Currency"),)

B, C, H = ConversionType.BASIC, ConversionType.CALLS, ConversionType.CHATS

# fmt: off
# Presence per type, in the order BASIC CALLS CHATS: r = required, o = optional, - = absent.
_TABLE: tuple[tuple[str, Kind, str, tuple[str, ...]], ...] = (
    # name                 kind               B C H    aliases
    ("ClientId",           Kind.NUMERIC_ID,   "o o o", ("_ym_uid", "ym_uid")),
    ("UserId",             Kind.TEXT,         "o o o", ()),
    ("Yclid",              Kind.NUMERIC_ID,   "o o o", ()),
    ("PurchaseId",         Kind.TEXT,         "o - o", ()),
    ("Target",             Kind.GOAL,         "r - -", ()),
    ("DateTime",           Kind.UNIX_TIME,    "r r r", ()),
    ("ChatPlatform",       Kind.CHAT_PLATFORM, "- - r", ()),
    ("ChatUsername",       Kind.TEXT,         "- - o", ()),
    ("ChatUserID",         Kind.TEXT,         "- - o", ()),
    ("PhoneNumber",        Kind.PHONE,        "- o o", ("phone",)),
    ("StaticCall",         Kind.FLAG,         "- o -", ()),
    ("TalkDuration",       Kind.DURATION,     "- o -", ()),
    ("HoldDuration",       Kind.DURATION,     "- o -", ()),
    ("CallMissed",         Kind.FLAG,         "- o -", ()),
    ("FirstTimeCaller",    Kind.FLAG,         "- o -", ()),
    ("ChatAnswered",       Kind.FLAG,         "- - o", ()),
    ("Tag",                Kind.TAG,          "- o o", ()),
    ("Price",              Kind.PRICE,        "o o o", ()),
    ("Currency",           Kind.CURRENCY,     "o o o", ()),
    ("URL",                Kind.URL,          "- o o", ()),
    ("CallTrackerURL",     Kind.URL,          "- o -", ()),
    ("MessengerTrackerURL", Kind.URL,         "- - o", ()),
)
# fmt: on

# The chat pages spell the IDs with a capital D; the API pages do not.
_SPELLING: Mapping[ConversionType, Mapping[str, str]] = {
    H: {"ClientId": "ClientID", "UserId": "UserID", "PurchaseId": "PurchaseID"},
}

_GROUPS: Mapping[ConversionType, tuple[Group, ...]] = {
    B: (Group(("ClientId", "UserId", "Yclid", "PurchaseId"), "no-linking-id", is_error=True),),
    C: (Group(("UserId", "ClientId", "Yclid"), "no-linking-id", is_error=True),),
    H: (
        Group(("ChatUsername", "ChatUserID", "PhoneNumber"), "no-chat-contact", is_error=True),
        Group(("ClientId", "UserId", "Yclid", "PurchaseId"), "unattributed-chat", is_error=False),
    ),
}

# Conversions Metrica would count twice. CHATS: the key Metrica itself updates a chat by (seed).
# BASIC and CALLS have no documented key: the same goal (or call) for the same user at the same
# second is the same conversion; a different price alone does not make a new one.
_DEDUPE_KEYS: Mapping[ConversionType, tuple[str, ...]] = {
    B: ("Target", "DateTime", "ClientId", "UserId", "Yclid", "PurchaseId"),
    C: ("DateTime", "PhoneNumber", "UserId", "ClientId", "Yclid"),
    H: ("DateTime", "ChatPlatform", "ChatUsername", "ChatUserID", "PhoneNumber"),
}

_TYPE_ORDER = (B, C, H)


def _build(kind: ConversionType) -> TypeRules:
    spelling = _SPELLING.get(kind, {})
    position = _TYPE_ORDER.index(kind)
    columns = []
    for name, value_kind, presence, aliases in _TABLE:
        flag = presence.split()[position]
        if flag == "-":
            continue
        columns.append(
            Column(spelling.get(name, name), value_kind, required=flag == "r", aliases=aliases)
        )
    groups = tuple(
        dataclasses.replace(g, columns=tuple(spelling.get(c, c) for c in g.columns))
        for g in _GROUPS[kind]
    )
    key = tuple(spelling.get(c, c) for c in _DEDUPE_KEYS[kind])
    return TypeRules(kind, tuple(columns), groups, key)


RULES: Mapping[ConversionType, TypeRules] = MappingProxyType({t: _build(t) for t in _TYPE_ORDER})

#: Active ISO 4217 currency codes (funds included; test codes, metals and units of account
#: left out). RUR, the pre-1998 rouble, is gone: Metrica wants RUB.
CURRENCIES: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK
    MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
    PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD
    XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()  # noqa: SIM905 (a block of codes reads better than 170 quoted strings)
)

#: ChatPlatform values Metrica documents (lower case).
CHAT_PLATFORMS: frozenset[str] = frozenset({"whatsapp", "telegram", "viber"})

#: Other names chat services give Metrica's three platforms (compared lower-cased, with spaces,
#: underscores, hyphens and dots left out): a channel type (Jivo's `tg`, `wa`, `vb`), a
#: transport (Wazzup's `tgapi`, `wapi`), a bot or a business account of the same messenger.
#: Names of other messengers (instagram, vk, avito) are not here: Metrica has no such platform.
CHAT_PLATFORM_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(
            ("tg", "tgapi", "tgbot", "telegrambot", "telegramm", "телеграм", "телеграмм"),
            "telegram",
        ),
        **dict.fromkeys(
            ("wa", "wapi", "waba", "whatsappbusiness", "whatsapi", "whatsgroup", "ватсап"),
            "whatsapp",
        ),
        **dict.fromkeys(("vb", "viberbot", "viberbusiness", "вайбер"), "viber"),
    }
)

TAG_MAX_CHARS = 100

_IGNORED_IN_NAMES = re.compile(r"[\s_\-.\[\]{}'\"`«»„“”]+")


def match_key(name: str) -> str:
    """How header names are compared: case, spaces, `_`, `-`, `.`, brackets and quotes do not
    count (`[Target]`, `'Price'` and `Date Time` all match)."""
    return _IGNORED_IN_NAMES.sub("", name).casefold()


_SAFE_NAME = re.compile(r"[A-Za-zА-Яа-яЁё_][A-Za-zА-Яа-яЁё0-9_ .\-]{0,39}")


def safe_label(name: str, position: int) -> str:
    """A header cell as it may appear in a report: itself when it reads like a column name,
    else its position. A file without a header row has data there (phones, IDs)."""
    stripped = " ".join(name.split()).strip("[]{}'\"`«»„“”")
    if _SAFE_NAME.fullmatch(stripped) and sum(ch.isdigit() for ch in stripped) < 4:
        return stripped
    return f"column {position + 1}"


@dataclasses.dataclass(frozen=True)
class HeaderIssue:
    """A problem (or a note) about the header row, reported on line 1."""

    code: str
    column: str | None
    message: str
    is_error: bool


@dataclasses.dataclass(frozen=True)
class Layout:
    """How one file's header maps onto its type's columns."""

    rules: TypeRules
    width: int  # cells per row, as in the header
    columns: tuple[Column | None, ...]  # per input position; None = dropped
    kept: tuple[int, ...]  # input positions written out, in input order
    unnamed: tuple[int, ...] = ()  # input positions with an empty name (dropped)

    @property
    def output_header(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column is not None)

    def position(self, name: str) -> int | None:
        """Input position of a canonical column, or None when the file lacks it."""
        for i, column in enumerate(self.columns):
            if column is not None and column.name == name:
                return i
        return None


def _lookup(rules: TypeRules) -> dict[str, Column]:
    table: dict[str, Column] = {}
    for column in rules.columns:
        table[match_key(column.name)] = column
        for alias in column.aliases:
            table[match_key(alias)] = column
    return table


_UNNAMED = re.compile(r"(?:Unnamed: ?[0-9]+)?", re.IGNORECASE)


def is_unnamed(name: str) -> bool:
    """An empty header cell, or pandas' name for one (`Unnamed: 0`)."""
    return _UNNAMED.fullmatch(name.strip()) is not None


def _name_issues(
    kind: ConversionType,
    rules: TypeRules,
    names: Sequence[str],
    column_map: Mapping[str, str],
) -> tuple[list[Column | None], list[HeaderIssue]]:
    """Each header cell's column (None when dropped), and what was odd about the cells.
    Unnamed cells are left to the caller: their column is dropped if its cells are empty
    or row numbers (see `unnamed.py`)."""
    lookup = _lookup(rules)
    chosen = {match_key(source): target for source, target in column_map.items()}
    issues: list[HeaderIssue] = []
    mapped: list[Column | None] = []
    seen: dict[str, int] = {}
    for position, raw in enumerate(names):
        name = raw.strip()
        label = safe_label(name, position)
        if is_unnamed(name):
            mapped.append(None)
            continue
        target = chosen.get(match_key(name))
        column = lookup.get(match_key(target if target is not None else name))
        # Two cells are the same column if they resolve to one (ClientId and _ym_uid do).
        identity = column.name if column is not None else match_key(name)
        first = seen.get(identity)
        if first is not None:
            mapped.append(None)
            # A repeated kept column: which of the two is the conversion's? A repeated dropped
            # one (amoCRM repeats a field of the deal and of its contact) costs nothing.
            if column is not None:
                issues.append(
                    HeaderIssue(
                        "duplicate-column",
                        label,
                        f"header cells {first + 1} and {position + 1} name the same column",
                        is_error=True,
                    )
                )
            else:
                issues.append(
                    HeaderIssue(
                        "duplicate-column-dropped",
                        label,
                        f"header cells {first + 1} and {position + 1} both name {label}, a "
                        f"column {kind.value} files do not have: dropped",
                        is_error=False,
                    )
                )
            continue
        mapped.append(column)
        seen[identity] = position
        if column is None:
            mapped_to = f" (mapped to {target})" if target is not None else ""
            issues.append(
                HeaderIssue(
                    "unknown-column",
                    label,
                    f"{label}{mapped_to} is not a {kind.value} column: dropped",
                    is_error=False,
                )
            )
        elif name != column.name:
            how = "mapped to" if target is not None else "written as"
            issues.append(
                HeaderIssue(
                    "header-renamed",
                    column.name,
                    f"{label} is {how} {column.name}",
                    is_error=False,
                )
            )
    return mapped, issues


def _presence_issues(
    kind: ConversionType, rules: TypeRules, present: set[str]
) -> list[HeaderIssue]:
    """Required columns and at-least-one groups the header lacks."""
    issues = [
        HeaderIssue(
            "missing-column",
            column.name,
            f"{kind.value} files need a {column.name} column",
            is_error=True,
        )
        for column in rules.columns
        if column.required and column.name not in present
    ]
    for group in rules.groups:
        if present.isdisjoint(group.columns):
            names_list = ", ".join(group.columns)
            if group.is_error:
                message = f"{kind.value} files need at least one of {names_list}"
            else:
                message = f"no {names_list} column: the chats cannot be linked to visits"
            issues.append(HeaderIssue(group.code, None, message, is_error=group.is_error))
    if not present:
        issues.append(
            HeaderIssue(
                "missing-column",
                None,
                "no header cell names a known column: is the header row missing, "
                "or is this the wrong type?",
                is_error=True,
            )
        )
    return issues


def resolve_header(
    kind: ConversionType, names: Sequence[str], column_map: Mapping[str, str] | None = None
) -> tuple[Layout | None, list[HeaderIssue]]:
    """Map header cells to columns (through `column_map` first, when given: the file's own
    names to canonical ones). Returns the layout (None when the header rejects the file)
    and every issue found: errors, and warnings for renamed and dropped columns."""
    rules = RULES[kind]
    mapped, issues = _name_issues(kind, rules, names, column_map or {})
    present = {column.name for column in mapped if column is not None}
    issues += _presence_issues(kind, rules, present)
    if any(issue.is_error for issue in issues):
        return None, issues
    kept = tuple(i for i, column in enumerate(mapped) if column is not None)
    unnamed = tuple(i for i, name in enumerate(names) if is_unnamed(name))
    return Layout(rules, len(names), tuple(mapped), kept, unnamed), issues


#: Every canonical column name of every type (what a column map may point at).
KNOWN_COLUMNS: frozenset[str] = frozenset(
    column.name for rules in RULES.values() for column in rules.columns
)
