"""Text from users and from registries: stored only when it is valid, shown only escaped.

A command line or an environment variable can carry bytes that are not
UTF-8 (Python keeps them as lone surrogates), and any text can carry
control characters that a terminal obeys: `ESC [2J` clears the screen,
`ESC ]0;…BEL` sets the window title, U+202E reverses what follows. What is
stored must encode as UTF-8; what is shown has these written as escapes.
"""

from __future__ import annotations

from mreg.errors import UsageError

# C0 controls, DEL and the C1 controls (U+0080-U+009F, which some terminals
# read as ESC sequences), and the bidirectional overrides and isolates.
_ESCAPES = {
    **{code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))},
    **{code: f"\\u{code:04x}" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))},
    0x09: "\\t",
    0x0A: "\\n",
    0x0D: "\\r",
}


def one_line(text: str) -> str:
    """`text` on one line, safe for a terminal: newlines, tabs and other controls written as escapes."""
    text = text.translate(_ESCAPES)
    # Lone surrogates (bytes that were not UTF-8) as the bytes they stand for.
    return text if text.isascii() or _is_encodable(text) else text.encode("utf-8", "backslashreplace").decode()


def _is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(text: str, what: str, hint: str = "write it in UTF-8") -> str:
    """`text` if it is valid Unicode; else a usage error naming `what` (an option, a variable, a file)."""
    if not text.isascii() and not _is_encodable(text):
        raise UsageError(f"{what} is not valid UTF-8: {one_line(text)[:80]}", hint=hint)
    return text
