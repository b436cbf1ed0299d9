"""usi.run — benchmark any user simulator on τ² airline/retail tasks (``usi run``, ``usi judge``).

Public entry points (imported lazily: τ² and litellm take seconds to import):

- :func:`usi.llm.models.completion_kwargs`, :func:`usi.llm.models.validate_model`
- :func:`usi.run.runner.run_episodes` with :class:`usi.run.episode.RunSettings` /
  :class:`usi.run.episode.RoleSettings` — what ``usi run`` and ``usi demo`` call
- :func:`usi.run.judge.judge_file` — what ``usi judge`` calls
"""

from usi.exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
