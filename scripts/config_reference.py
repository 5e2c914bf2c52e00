"""Generate the stack-config reference from ``infra/settings.py`` and keep README.md in step.

Every key a stack file may set becomes one table row: its full path as Pulumi users write it
(``data-platform:postgres.instanceClass``; the region is ``aws:region``), its type, its default,
what is allowed (``Literal`` values, ``Field`` ranges and patterns, and the "allowed" text of the
settings' own validators) and its description (the attribute docstring, which pydantic keeps in
``field.description`` because the models use ``use_attribute_docstrings=True``).

Usage::

    python scripts/config_reference.py            # rewrite README.md between the markers
    python scripts/config_reference.py --check    # exit 1 when README.md is out of date
    python scripts/config_reference.py --stdout   # print the reference only

The README section is the text between ``<!-- config-reference:start -->`` and
``<!-- config-reference:end -->``; everything outside the markers is left alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file (python scripts/config_reference.py) from anywhere
    sys.path.insert(0, str(ROOT))

from pydantic import AfterValidator, BaseModel, SecretStr  # noqa: E402
from pydantic.fields import FieldInfo  # noqa: E402
from pydantic_core import PydanticUndefined  # noqa: E402

from infra.settings import PROJECT, Settings  # noqa: E402

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"
README = ROOT / "README.md"

#: Fields of ``Settings`` that are not config keys: filled in by ``load_settings`` from the stack.
INTERNAL = frozenset({"stack", "stack_file", "environment_stated"})
#: Fields read from another namespace than the project's.
OTHER_NAMESPACE = {"region": "aws:region"}
#: Defaults that are computed rather than declared.
DERIVED_DEFAULTS = {"environment": "derived from the stack name (see description)"}


@dataclass(frozen=True)
class Row:
    """One config key of the reference."""

    key: str
    type: str
    default: str
    allowed: str
    description: str


@dataclass(frozen=True)
class Section:
    """The keys of one top-level section (or the top-level keys themselves)."""

    title: str
    rows: tuple[Row, ...]


def sections(model: type[BaseModel] = Settings) -> list[Section]:
    """The reference, grouped: top-level keys first, then one section per nested model."""
    top: list[Row] = []
    groups: list[Section] = []
    for name, field in model.model_fields.items():
        if name in INTERNAL:
            continue
        alias = field.alias or name
        sub = _model_of(field.annotation)
        if sub is not None:
            groups.append(Section(f"`{PROJECT}:{alias}`", tuple(_rows(sub, f"{PROJECT}:{alias}"))))
        else:
            key = OTHER_NAMESPACE.get(name, f"{PROJECT}:{alias}")
            top.append(_row(key, field, DERIVED_DEFAULTS.get(name)))
    return [Section("Top-level keys", tuple(top)), *groups]


def _rows(model: type[BaseModel], prefix: str) -> Iterator[Row]:
    for name, field in model.model_fields.items():
        path = f"{prefix}.{field.alias or name}"
        sub = _model_of(field.annotation)
        if sub is not None:
            yield from _rows(sub, path)
        else:
            yield _row(path, field, None)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _row(key: str, field: FieldInfo, derived_default: str | None) -> Row:
    return Row(
        key=key,
        type=type_text(field.annotation),
        default=derived_default or default_text(field),
        allowed=allowed_text(field),
        description=" ".join((field.description or "").split()),
    )


# ------------------------------------------------------------------------------------------------
# Types, defaults, constraints
# ------------------------------------------------------------------------------------------------

_SCALARS: dict[Any, str] = {bool: "boolean", int: "integer", float: "number", str: "string",
                            SecretStr: "secret string"}


def type_text(annotation: Any) -> str:
    """A reader's name for a type: ``integer``, ``string or null``, ``list of string``, ..."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is Annotated:
        return type_text(args[0])
    if origin in (Union, types.UnionType):
        return " or ".join(dict.fromkeys(type_text(a) for a in args))
    if origin is Literal:
        return " or ".join(dict.fromkeys(_SCALARS.get(type(v), type(v).__name__) for v in args))
    if origin is tuple or origin is list:
        return f"list of {type_text(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {type_text(args[0])} to {type_text(args[1])}" if args else "map"
    return _SCALARS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def default_text(field: FieldInfo) -> str:
    """The declared default as a stack file would spell it (YAML/JSON scalars)."""
    value = field.default
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return json.dumps(list(value))
    if isinstance(value, dict):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def allowed_text(field: FieldInfo) -> str:
    """Literal values, numeric range, pattern and validator texts of a field, joined by "; "."""
    parts: list[str] = []
    if type_text(field.annotation).startswith("boolean"):
        parts.append("true, false")
    literals = _literals(field.annotation)
    if literals:
        parts.append(", ".join(str(v) for v in literals))
    lo = hi = None
    strict: list[str] = []
    for meta in field.metadata:
        if getattr(meta, "ge", None) is not None:
            lo = meta.ge
        if getattr(meta, "le", None) is not None:
            hi = meta.le
        if getattr(meta, "gt", None) is not None:
            strict.append(f"> {meta.gt:g}" if isinstance(meta.gt, float) else f"> {meta.gt}")
        if getattr(meta, "lt", None) is not None:
            strict.append(f"< {meta.lt}")
        if getattr(meta, "pattern", None):
            parts.append(f"`{meta.pattern}`")
    if lo is not None and hi is not None:
        parts.append(f"{_num(lo)}..{_num(hi)}")
    elif lo is not None:
        parts.append(f">= {_num(lo)}")
    elif hi is not None:
        parts.append(f"<= {_num(hi)}")
    parts.extend(strict)
    parts.extend(_validator_texts([*field.metadata, *_annotated_metadata(field.annotation)]))
    return "; ".join(dict.fromkeys(parts))


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _literals(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin is Literal:
        return list(get_args(annotation))
    if origin in (Union, types.UnionType, Annotated):
        return [v for a in get_args(annotation) for v in _literals(a)]
    return []


def _annotated_metadata(annotation: Any) -> list[Any]:
    """Metadata of Annotated types anywhere inside ``annotation`` (Optional[Email], dict values)."""
    found: list[Any] = []
    if get_origin(annotation) is Annotated:
        found.extend(annotation.__metadata__)
    for arg in get_args(annotation):
        if not isinstance(arg, str | int | float | bool):
            found.extend(_annotated_metadata(arg))
    return found


def _validator_texts(metadata: list[Any]) -> list[str]:
    """What the settings' after-validators allow, in their own words.

    Each validator in infra/settings.py raises ``ValueError(<what is allowed>)``; calling it with
    an empty string yields that text (the same text the ConfigError shows users).
    """
    texts: list[str] = []
    for meta in metadata:
        if isinstance(meta, AfterValidator):
            try:
                meta.func("")  # type: ignore[call-arg]
            except ValueError as err:
                texts.append(str(err))
            except Exception:  # a validator that cannot take "" has no text to show
                pass
    return texts


# ------------------------------------------------------------------------------------------------
# Markdown and README
# ------------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or " "


def render(groups: list[Section] | None = None) -> str:
    """The reference as markdown: a note on how it is made, then one table per section."""
    groups = groups if groups is not None else sections()
    lines = [
        "<!-- Generated by scripts/config_reference.py from infra/settings.py: edit the settings, then run",
        "     `python scripts/config_reference.py`. -->",
        "",
        f"Every key is set in `Pulumi.<stack>.yaml` under `config:`; sections are structured values "
        f"(`{PROJECT}:postgres: {{instanceClass: db.r7g.xlarge}}`) and a key path below can also be set "
        f"with `pulumi config set --path '{PROJECT}:postgres.instanceClass' db.r7g.xlarge`.",
    ]
    for group in groups:
        lines += ["", f"### {group.title}", "", "| Key | Type | Default | Allowed | Description |",
                  "|---|---|---|---|---|"]
        for r in group.rows:
            allowed = _cell(r.allowed) if r.allowed else "any"
            lines.append(f"| `{r.key}` | {_cell(r.type)} | `{_cell(r.default)}` | {allowed} | "
                         f"{_cell(r.description)} |")
    return "\n".join(lines) + "\n"


class MarkersMissing(Exception):
    """README.md has no (or misordered) config-reference markers."""


def replace_section(readme: str, body: str) -> str:
    """``readme`` with the text between the markers replaced by ``body``."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < 0 or end < start:
        raise MarkersMissing(f"README.md needs the markers {START} and {END} (in that order) around the "
                             "config reference")
    return readme[: start + len(START)] + "\n" + body + readme[end:]


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with --check, compare) the README section. Exit 0 ok, 1 out of date, 2 no markers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the README is out of date")
    parser.add_argument("--stdout", action="store_true", help="print the reference, touch nothing")
    parser.add_argument("--readme", type=Path, default=README, help="README to update (default: README.md)")
    args = parser.parse_args(argv)
    body = render()
    if args.stdout:
        sys.stdout.write(body)
        return 0
    try:
        current = args.readme.read_text(encoding="utf-8")
        wanted = replace_section(current, body)
    except (OSError, MarkersMissing) as err:
        print(f"{args.readme}: {err}", file=sys.stderr)
        return 2
    if args.check:
        if wanted != current:
            print(f"{args.readme}: the config reference is out of date: run `python scripts/config_reference.py`",
                  file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        args.readme.write_text(wanted, encoding="utf-8")
        print(f"{args.readme}: config reference updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
