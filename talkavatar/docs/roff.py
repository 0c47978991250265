"""Minimal roff (man(7)) writing helpers."""

from __future__ import annotations


# Man pages render on ASCII terminals too, where troff has no glyph for these.
ASCII = {"\u2026": "...", "\u2014": "\\-\\-", "\u2013": "\\-", "\u00d7": "x", "\u00b2": "^2", "\u00b0": " deg",
         "\u00b1": "+/\\-", "\u2192": "\\->", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
         "\u2016": "||", "\u2248": "~"}


def escape(text: str) -> str:
    """Escape text for a roff body line: backslashes, hyphens, and leading control characters."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = "".join(ASCII.get(c, c) if ord(c) >= 128 else c for c in text)
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    lines = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def section(title: str) -> str:
    return f".SH {title.upper()}"


def tagged(tag: str, body: str) -> str:
    """A ``.TP`` paragraph: ``tag`` in bold, ``body`` indented under it."""
    return f".TP\n\\fB{escape(tag)}\\fR\n{escape(body)}"


def literal(block: str) -> str:
    """A no-fill example block."""
    return ".PP\n.RS 4\n.nf\n" + escape(block) + "\n.fi\n.RE"
