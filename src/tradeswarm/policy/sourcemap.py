"""Line and column for Cedar errors: cedarpy reports parse and validation errors without
a source location, so find it here with cedarpy itself, not a second Cedar parser. The one
implementation, used by ``tradeswarm policy`` (``loader``) and the risk gate's policy files.

Parse error: the parser recovers at ``;`` and reports only one of its errors, so first find
the statement that fails on its own, then the shortest prefix of it that already fails
with that statement's message (see ``_error_offset``). Validation error: it names its
policy (``policy3``), located where the fourth statement starts (statements end at a
``;`` outside strings and comments).
"""

from __future__ import annotations

import cedarpy

INCOMPLETE = "unexpected end of input"


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    before = text[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1


def _message(text: str) -> str | None:
    """cedarpy's parse error for text, or None when text parses."""
    try:
        cedarpy.PolicySet.from_str(text)
    except ValueError as err:
        return str(err)
    return None


def _first_broken_statement(text: str) -> tuple[int, int]:
    """(start, end) of the first policy statement that does not parse on its own."""
    statements = _statements(text)
    for start, end in statements:
        if _message(text[start:end]) is not None:
            return start, end
    return (statements[-1][1] if statements else 0), len(text)  # the unterminated tail


def chunks(text: str) -> list[tuple[int, int]]:
    """(start, end) of the whitespace-separated pieces of text outside comments; a string
    literal is never split."""
    pieces: list[tuple[int, int]] = []
    start: int | None = None
    i = 0
    while i < len(text):
        comment = text.startswith("//", i)
        if (comment or text[i].isspace()) and start is not None:
            pieces.append((start, i))
            start = None
        if comment:
            i = _skip_comment(text, i)
        elif text[i].isspace():
            i += 1
        else:
            start = i if start is None else start
            i = _skip_string(text, i) if text[i] == '"' else i + 1
    if start is not None:
        pieces.append((start, min(i, len(text))))
    return pieces


def _named_token(statement: str, message: str) -> str:
    """The token a message names: `x` in backticks, or a trailing ": word" found in text."""
    if message.count("`") == 2:
        return message.split("`")[1]
    word = message.rsplit(": ", 1)[-1].strip()
    return word if ": " in message and word and word in statement else ""


def _error_offset(statement: str, message: str) -> int:
    """Offset in statement of the token the parser first rejects with message.

    cedarpy reports the last of its errors, and a parser that recovered from an error
    reports "unexpected end of input" for a prefix that stops later; so scan prefixes for
    the first one that already gives the statement's own message and keeps giving it to
    the end of its piece (a half-typed ``&&`` or string is not the culprit)."""
    token = _named_token(statement, message)
    if token and message.count("`") != 2:
        return statement.index(token)
    piece_ends = [e for _, e in chunks(statement)]
    for end in range(1, len(statement) + 1):
        if _message(statement[:end]) != message:
            continue
        piece_end = next((e for e in piece_ends if e >= end), len(statement))
        if not token and _message(statement[:piece_end]) != message:
            continue
        return end - len(token) if token else end - 1
    return len(statement)


def locate_parse_error(text: str) -> tuple[int, int]:
    """Line and column where the parse of text first goes wrong."""
    start, end = _first_broken_statement(text)
    message = _message(text[start:end])
    if message is None or INCOMPLETE in message:
        return line_column(text, end)  # the text merely ends too early
    return line_column(text, start + _error_offset(text[start:end], message))


def _skip_string(text: str, i: int) -> int:
    """Index just past the string literal that starts at text[i] == '"'."""
    i += 1
    while i < len(text) and text[i] != '"':
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _skip_comment(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _statements(text: str) -> list[tuple[int, int]]:
    """(start, end) of each policy statement: from its first annotation or keyword to
    just past its ``;`` (``;`` inside strings and comments does not count)."""
    found: list[tuple[int, int]] = []
    start: int | None = None
    i = 0
    while i < len(text):
        if text.startswith("//", i):
            i = _skip_comment(text, i)
            continue
        char = text[i]
        if not char.isspace() and start is None:
            start = i
        if char == '"':
            i = _skip_string(text, i)
            continue
        if char == ";" and start is not None:
            found.append((start, i + 1))
            start = None
        i += 1
    return found


def statement_starts(text: str) -> list[int]:
    """Offsets where each policy statement starts (its first annotation or keyword)."""
    return [start for start, _ in _statements(text)]


def policy_location(text: str, policy_id: str) -> tuple[int, int]:
    """Line and column where Cedar's policy ``policyN`` starts (1, 1 when unknown)."""
    digits = policy_id.removeprefix("policy")
    starts = statement_starts(text)
    if digits.isdigit() and int(digits) < len(starts):
        return line_column(text, starts[int(digits)])
    return 1, 1
