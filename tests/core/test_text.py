"""Text: stored only when it is valid UTF-8, shown with terminal controls escaped."""

from __future__ import annotations

import pytest

from mreg.core.text import check_text, one_line
from mreg.errors import UsageError


@pytest.mark.parametrize("text, shown", [
    ("plain text, ünïcödé", "plain text, ünïcödé"),
    ("two\nlines\tand\rreturn", "two\\nlines\\tand\\rreturn"),
    ("\x1b[2Jclear", "\\x1b[2Jclear"),
    ("\x9bc1", "\\x9bc1"),
    ("\x7f", "\\x7f"),
    ("a\u202eb\u2066c", "a\\u202eb\\u2066c"),
    ("bad \udcff byte", "bad \\udcff byte"),
])
def test_one_line_escapes_what_a_terminal_would_obey(text, shown):
    assert one_line(text) == shown
    assert "\n" not in one_line(text)


def test_check_text_passes_valid_text_and_names_what_is_not():
    assert check_text("ok ✓", "--reason") == "ok ✓"
    with pytest.raises(UsageError) as caught:
        check_text("bad \udcff", "--reason")
    assert "--reason" in str(caught.value) and "UTF-8" in str(caught.value)
