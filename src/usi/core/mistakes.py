"""The kinds of mistake a user (a simulator or a person) makes, as ``usi audit`` names them.

Spelled once, here: the audit's result model, its rules, its table and the report take the
names and their order from :data:`MISTAKE_KINDS`, and so does the ``offline/flaky``
simulator that makes these mistakes on purpose (it lives in :mod:`usi.llm`, which may not
import :mod:`usi.audit`; both may import :mod:`usi.core`).
"""

from __future__ import annotations

from typing import Literal, get_args

MistakeKind = Literal[
    "premature_stop",
    "hallucinated_identifier",
    "instruction_leak",
    "role_confusion",
    "repetition_loop",
    "empty_turn",
]
#: Every kind, in the order tables show them.
MISTAKE_KINDS: tuple[MistakeKind, ...] = get_args(MistakeKind)
