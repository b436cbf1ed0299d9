"""usi.llm — everything usi asks of a language model, in one place.

Model names and litellm settings with their base-URL and credential checks
(:mod:`~usi.llm.models`), the one parser of an LLM's JSON replies (:mod:`~usi.llm.reply`),
the conversation-quality judge shared by ``usi judge``, the audit and the study
(:mod:`~usi.llm.quality`), and the deterministic offline models served on localhost for
demos and tests (:mod:`~usi.llm.offline`). ``run``, ``study``, ``audit`` and the CLI use it;
it uses only the τ² adapter (:mod:`usi.tau`) below it.
"""
