"""Minimal roff (man(7)) writing helpers."""

from __future__ import annotations


def escape(text: str) -> str:
    """Escape text for a roff body line: backslashes, hyphens, and leading control characters."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
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
