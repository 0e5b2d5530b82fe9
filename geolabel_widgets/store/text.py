"""Text columns that hold the same on SQLite and PostgreSQL.

PostgreSQL refuses a NUL character in text and text longer than its VARCHAR;
SQLite keeps both. So both backends refuse them here, in one line naming the
text, and a store copied from SQLite to a server keeps every row.
"""

from __future__ import annotations

import sqlalchemy as sa

from .types import StoreError


class TextRefused(StoreError):
    """Text a store cannot keep on every backend."""


class String(sa.types.TypeDecorator):
    """VARCHAR(length) that refuses NUL characters and longer text."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if isinstance(value, str):
            if "\x00" in value:
                raise TextRefused(f"{_shown(value)} holds a NUL character (\\x00), which a "
                                  "store cannot keep")
            if self.impl.length is not None and len(value) > self.impl.length:
                raise TextRefused(f"{_shown(value)} is {len(value):,} characters long; a "
                                  f"name or id is at most {self.impl.length}")
        return value


class Text(String):
    """TEXT that refuses NUL characters."""

    impl = sa.Text
    cache_ok = True


def refused(err: BaseException) -> TextRefused | None:
    """The refusal behind a statement that failed to bind its values, if it was one."""
    orig = getattr(err, "orig", None) if isinstance(err, sa.exc.StatementError) else None
    return orig if isinstance(orig, TextRefused) else None


def _shown(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")
