"""Reading a posted form: the one async step of a POST whose handler is a plain ``def``.

FastAPI runs plain ``def`` handlers in its thread pool. The study's POST handlers query
SQLite and may queue on the write gate; inside an ``async def`` that would stall the event
loop, and every other participant's request with it. So the body is read here, on the event
loop, as a dependency, and the handler itself stays synchronous.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request


async def posted_form(request: Request) -> dict[str, str]:
    """The form's text fields (uploads, which no study page has, are dropped)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


PostedForm = Annotated[dict[str, str], Depends(posted_form)]
