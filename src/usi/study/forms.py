"""Reading a posted form: strictly decoded, normalised and checked, on the event loop.

FastAPI runs plain ``def`` handlers in its thread pool. The study's POST handlers query
SQLite and may queue on the write gate; inside an ``async def`` that would stall the event
loop, and every other participant's request with it. So the body is read here, on the event
loop, as a dependency, and the handler itself stays synchronous.

Every study form is ``application/x-www-form-urlencoded`` (what an HTML form and chat.js
send). Its bytes are decoded strictly — invalid UTF-8 is refused (400) instead of being
turned into U+FFFD — and every value is normalised (NFC, CRLF → LF) and must not contain
NUL or other C0 control characters besides newline and tab (422), so nothing the database
(PostgreSQL refuses NUL) or an export reader would choke on is ever stored.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request

FORM_TYPE = "application/x-www-form-urlencoded"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class FormError(Exception):
    """A posted form the study refuses; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def clean_text(value: str) -> str:
    """NFC, CRLF and CR → LF; raises :class:`FormError` (422) on control characters."""
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    if _CONTROL.search(text):
        raise FormError(422, "Your text contains control characters. Please retype it.")
    return text


def parse_form(body: bytes) -> dict[str, str]:
    """The fields of an urlencoded body (the last of a repeated field wins)."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise FormError(400, "The form was not valid UTF-8. Please reload the page.") from None
    return {clean_text(key): clean_text(value) for key, value in pairs}


async def posted_form(request: Request) -> dict[str, str]:
    """The request's form fields, checked (see the module docstring)."""
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and kind != FORM_TYPE:
        raise FormError(415, "Please send the form from the study page.")
    return parse_form(body)


PostedForm = Annotated[dict[str, str], Depends(posted_form)]
