"""The defaults of a run's and a judge's settings, in a module that imports nothing.

:class:`usi.run.episode.RunSettings` and :class:`usi.run.judge.JudgeSettings` take their
defaults from here, and so do the signatures of ``usi run`` and ``usi judge``: typer needs
them when the CLI starts, before τ² and litellm (seconds to import) are loaded, so they
cannot be read off the models themselves. ``tests/cli/test_options.py`` checks that
each command's defaults are its model's.
"""

from __future__ import annotations

SEED = 300
"""τ²'s default base seed, so the trial seeds match ``tau2 run``'s."""
MAX_STEPS = 100
"""τ²'s step limit (every message counts, tool results too)."""
MAX_ERRORS = 10
"""τ²'s limit on tool errors in one episode."""
NUM_RETRIES = 5
"""Retries (with backoff) of one model call on 429/5xx/timeouts."""
TIMEOUT_S = 120.0
"""Seconds one model call may take."""
SURVEY = True
"""Ask the simulator the survey after each episode."""
PROTOCOL = "tau2"
"""τ²'s scenario and user guidelines (:data:`usi.run.paper.TAU2`)."""
USER_MODEL = "offline/cooperative"
"""The user simulator of a run that names none: offline, so a first run needs no key."""
AGENT_MODEL = "offline/oracle"
"""The agent of a run (and of the study's web app) that names none: offline, no key."""
