"""Replace the text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in README.md.

Usage: ``python scripts/readme_section.py NAME FILE`` (FILE ``-`` reads stdin)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def replace_section(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {re.escape(name)}:start -->\n).*?(<!-- {re.escape(name)}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- {name}:start --> / <!-- {name}:end --> markers")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text)


def main() -> None:
    name, source = sys.argv[1], sys.argv[2]
    body = sys.stdin.read() if source == "-" else Path(source).read_text()
    README.write_text(replace_section(README.read_text(), name, body))


if __name__ == "__main__":
    main()
