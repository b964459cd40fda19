"""The Terraform under infra/, read with python-hcl2 into a small model the tests can query.

python-hcl2 has changed its output shape between releases, and checkov installs its own fork
under the same `hcl2` import name, so which shape `import hcl2` yields depends on install order:

- attribute values wrapped in one-element lists (`{"runtime": ["python312"]}`): the fork and
  python-hcl2 before 4;
- attribute values bare (`{"runtime": "python312"}`): python-hcl2 4 to 7, and 8 when asked for
  unquoted strings without block and comment markers (what `_parse` does).

Blocks are lists of dicts in every shape (the fork alone gives a `dynamic` block as a bare
dict). `parse` turns all of them into the bare shape, so the tests read one shape whatever is
installed. Expressions stay strings: `"${var.region}"`. What still differs between releases is
how an expression is spelled inside such a string: a variable's `type` is `string` in some and
`${string}` in others (normalised here to the bare `string`); an object inside an expression is
`{'KEY': '${f(x)}'}`, `{"KEY": "${f(x)}"}` or `{KEY = f(x)}`. Tests that look inside an
expression compare `squash(...)` of it, which drops quotes, `${`, braces, `=`, `:` and spaces.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import hcl2
import hcl2.api

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"
EXAMPLE_DIR = INFRA_DIR / "examples" / "basic"

_META_KEY = re.compile(r"^__\w+__$")
_LOCAL_IN_TEXT = re.compile(r"\$\{local\.(\w+)\}")
# One reference, with optional indexes: `[0]`, `[each.key]`, `["name"]`.
_SINGLE_REFERENCE = re.compile(
    r"^\$\{([A-Za-z_][\w-]*(?:\.[\w-]+|\[(?:\d+|each\.(?:key|value)|\"[\w-]+\")\])*)\}$"
)
# Attributes that hold a map or object value, never a block: the fork wraps `default = {}` as
# `[{}]`, which is also how it writes an empty block.
_MAP_ATTRIBUTES = frozenset(
    {"default", "triggers", "label_extractors", "environment_variables", "for_each"}
)


# The signature differs between releases (keyword options since 8), hence the loose type.
_loads: Callable[..., dict[str, Any]] = hcl2.api.loads
_SerializationOptions: Callable[..., Any] | None = getattr(hcl2, "SerializationOptions", None)


def _raw_loads(text: str) -> dict[str, Any]:
    if _SerializationOptions is None:
        return dict(_loads(text))
    options = _SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False, with_comments=False
    )
    return dict(_loads(text, serialization_options=options))


@functools.cache
def _attributes_are_wrapped() -> bool:
    return isinstance(_raw_loads('probe = "x"\n')["probe"], list)


def _looks_like_block(items: list[Any]) -> bool:
    """In the wrapped shape, a block is a list of dicts whose own values are all lists."""
    return bool(items) and all(
        isinstance(item, dict)
        and all(isinstance(value, list) for key, value in item.items() if not _META_KEY.match(key))
        for item in items
    )


def _unescape(value: Any) -> Any:
    # The fork keeps HCL's escaped quotes as written (`\"`); the others resolve them.
    if isinstance(value, str):
        return value.replace('\\"', '"')
    if isinstance(value, list):
        return [_unescape(item) for item in value]
    if isinstance(value, dict):
        return {key: _unescape(item) for key, item in value.items()}
    return value


def _normalize_dynamic(value: Any, wrapped: bool) -> list[dict[str, Any]]:
    """`dynamic "NAME" {...}` blocks as [{NAME: body}, ...] (the fork gives one bare dict)."""
    entries = value if isinstance(value, list) else [value]
    return [
        {
            label: _normalize_body(inner, wrapped)
            for label, inner in entry.items()
            if not _META_KEY.match(label)
        }
        for entry in entries
        if isinstance(entry, dict)
    ]


def _normalize_body(body: Mapping[str, Any], wrapped: bool) -> dict[str, Any]:
    """A block body in the bare shape: attributes as values, nested blocks as lists of dicts."""
    result: dict[str, Any] = {}
    for key, value in body.items():
        if _META_KEY.match(key):
            continue
        if key == "dynamic" and isinstance(value, list | dict):
            result[key] = _normalize_dynamic(value, wrapped)
        elif key == "type" and isinstance(value, str | list):
            result[key] = _bare_type(value[0] if isinstance(value, list) else value)
        elif wrapped and key in _MAP_ATTRIBUTES and isinstance(value, list) and len(value) == 1:
            result[key] = _unescape(_unwrap_map(value[0]))
        elif not wrapped:
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                result[key] = [_normalize_body(item, wrapped) for item in value]
            else:
                result[key] = _unescape(value)
        elif isinstance(value, list) and _looks_like_block(value):
            result[key] = [_normalize_body(item, wrapped) for item in value]
        elif isinstance(value, list) and len(value) == 1:
            result[key] = _unescape(value[0])
        else:
            result[key] = _unescape(value)
    return result


def _bare_type(value: Any) -> Any:
    """A type constraint without the `${...}` some releases put around it: `string`."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    return value


def _unwrap_map(value: Any) -> Any:
    """A map attribute of the wrapped shape: its values are one-element lists."""
    if isinstance(value, dict):
        return {
            key: item[0] if isinstance(item, list) and len(item) == 1 else item
            for key, item in value.items()
            if not _META_KEY.match(key)
        }
    return value


_SQUASHED = re.compile(r"""[\s'"${}=:]""")


_PYTHON_LITERALS = {"None": "null", "True": "true", "False": "false"}
_PYTHON_LITERAL = re.compile(r"\b(None|True|False)\b")


def squash(value: Any) -> str:
    """An expression reduced to what every python-hcl2 release spells the same way: no quotes,
    `${`, braces, `=`, `:` or spaces, and HCL's literals where the fork writes Python's (`None`).
    `{'A': '${f(x)}'}` and `{A = f(x)}` both give `Af(x)`."""
    text = _PYTHON_LITERAL.sub(lambda m: _PYTHON_LITERALS[m.group(1)], str(value))
    return _SQUASHED.sub("", text)


_LABELS = {"resource": 2, "data": 2, "variable": 1, "output": 1, "module": 1, "provider": 1}


def _normalize_labelled(value: Any, depth: int, wrapped: bool) -> Any:
    if depth == 0:
        return _normalize_body(value, wrapped)
    return {
        label: _normalize_labelled(inner, depth - 1, wrapped)
        for label, inner in value.items()
        if not _META_KEY.match(label)
    }


def parse(text: str) -> dict[str, Any]:
    """Parse a whole file: each top-level kind maps to a list of entries, labelled blocks as
    nested dicts of labels ({"resource": [{"TYPE": {"NAME": body}}]}), bodies in the bare shape.
    Top-level attributes (a tfvars file) come back as a plain dict of values."""
    raw = _raw_loads(text)
    wrapped = _attributes_are_wrapped()
    result: dict[str, Any] = {}
    for kind, entries in raw.items():
        if _META_KEY.match(kind):
            continue
        if kind in _LABELS and isinstance(entries, list):
            result[kind] = [_normalize_labelled(e, _LABELS[kind], wrapped) for e in entries]
        elif kind in {"locals", "terraform"} and isinstance(entries, list):
            result[kind] = [_normalize_body(entry, wrapped) for entry in entries]
        else:
            result.update(_normalize_body({kind: entries}, wrapped))
    return result


@dataclasses.dataclass(frozen=True)
class Block:
    """A labelled top-level block: a resource, data source, variable, output or module."""

    kind: str  # resource, data, variable, output, module, provider
    type: str  # the resource or data type; "" for the others
    name: str
    body: dict[str, Any]
    file: Path

    @property
    def address(self) -> str:
        prefix = {"resource": "", "data": "data."}.get(self.kind, f"{self.kind}.")
        return f"{prefix}{self.type}.{self.name}" if self.type else f"{prefix}{self.name}"


_EMPTY = Block("variable", "", "", {}, Path())


@dataclasses.dataclass(frozen=True)
class Config:
    """Every .tf file of one directory (not its subdirectories), as Terraform reads a module."""

    directory: Path
    texts: dict[Path, str]
    blocks: tuple[Block, ...]
    locals: dict[str, Any]
    terraform: tuple[dict[str, Any], ...]

    def of_kind(self, kind: str) -> list[Block]:
        return [block for block in self.blocks if block.kind == kind]

    @property
    def variables(self) -> dict[str, Block]:
        return {block.name: block for block in self.of_kind("variable")}

    @property
    def outputs(self) -> dict[str, Block]:
        return {block.name: block for block in self.of_kind("output")}

    def resources(self, type_: str | None = None) -> list[Block]:
        return [b for b in self.of_kind("resource") if type_ is None or b.type == type_]

    def resource(self, type_: str, name: str) -> Block:
        for block in self.resources(type_):
            if block.name == name:
                return block
        raise KeyError(f"no resource {type_}.{name} in {self.directory}")

    def data_sources(self, type_: str | None = None) -> list[Block]:
        return [b for b in self.of_kind("data") if type_ is None or b.type == type_]

    def has_address(self, address: str) -> bool:
        return any(block.address == address for block in self.blocks)

    def resolve(self, value: Any, *, defaults: bool = True, _depth: int = 0) -> Any:
        """Follow a value that is exactly one `local.X` reference, or `var.X` reference (to the
        variable's default, unless `defaults` is false), until it is something else."""
        if _depth > 10 or not isinstance(value, str):
            return value
        match = _SINGLE_REFERENCE.match(value)
        if not match:
            return value
        head, _, rest = match.group(1).partition(".")
        if head == "local" and rest in self.locals:
            following = self.locals[rest]
        elif head == "var" and defaults and "default" in self.variables.get(rest, _EMPTY).body:
            following = self.variables[rest].body["default"]
        else:
            return value
        return self.resolve(following, defaults=defaults, _depth=_depth + 1)

    def expand_locals(self, text: str) -> str:
        """`text` with every `${local.X}` whose value is a string substituted, repeatedly."""
        for _ in range(10):
            expanded = _LOCAL_IN_TEXT.sub(
                lambda m: str(self.locals.get(m.group(1), m.group(0))), text
            )
            if expanded == text:
                break
            text = expanded
        return text


def _blocks_of(kind: str, entries: list[Any], path: Path) -> Iterator[Block]:
    two_labels = kind in {"resource", "data"}
    for entry in entries:
        for first, inner in entry.items():
            if _META_KEY.match(first):
                continue
            if two_labels:
                for name, body in inner.items():
                    if not _META_KEY.match(name):
                        yield Block(kind, first, name, body, path)
            else:
                yield Block(kind, "", first, inner, path)


def load_text(texts: Mapping[Path, str], directory: Path) -> Config:
    """Build a Config from file texts (the real files, or snippets written by a test)."""
    blocks: list[Block] = []
    local_values: dict[str, Any] = {}
    terraform_blocks: list[dict[str, Any]] = []
    for path, text in texts.items():
        parsed = parse(text)
        for kind in ("resource", "data", "variable", "output", "module", "provider"):
            blocks.extend(_blocks_of(kind, parsed.get(kind, []), path))
        for entry in parsed.get("locals", []):
            local_values.update(entry)
        terraform_blocks.extend(parsed.get("terraform", []))
    return Config(
        directory=directory,
        texts=dict(texts),
        blocks=tuple(blocks),
        locals=local_values,
        terraform=tuple(terraform_blocks),
    )


@functools.cache
def load(directory: Path = INFRA_DIR) -> Config:
    """Every *.tf file of `directory` (cached: the files do not change during a run)."""
    texts = {path: path.read_text(encoding="utf-8") for path in sorted(directory.glob("*.tf"))}
    if not texts:
        raise FileNotFoundError(f"no .tf files in {directory}")
    return load_text(texts, directory)


def from_snippet(text: str) -> Config:
    """A Config of one in-memory file, for showing that a check catches a mistake."""
    return load_text({Path("snippet.tf"): text}, Path("snippet"))


def reference(value: Any) -> str | None:
    """`"${google_service_account.runtime.email}"` -> `"google_service_account.runtime.email"`;
    None when the value is not exactly one reference."""
    if not isinstance(value, str):
        return None
    match = _SINGLE_REFERENCE.match(value)
    return match.group(1) if match else None


def walk(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every leaf of a parsed body with the path of keys (and list indexes) leading to it."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, (*path, str(index)))
    else:
        yield path, value


def _single(value: Any, key: str) -> Any:
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        if len(value) != 1:
            raise AssertionError(f"expected one {key!r} block, found {len(value)}")
        return value[0]
    return value


def first(body: Mapping[str, Any] | list[Any], *keys: str) -> Any:
    """Follow nested single blocks: first(fn.body, "event_trigger", "retry_policy"). A block
    that occurs once comes back as its body; one that occurs more often is an error."""
    value: Any = body
    for key in keys:
        value = _single(value, key)[key]
    return _single(value, keys[-1])
