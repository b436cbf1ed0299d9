"""The public names of ``usi.run``: the one list (see :mod:`usi.exports`)."""

from usi.llm.models import completion_kwargs as completion_kwargs, validate_model as validate_model
from usi.run.episode import RoleSettings as RoleSettings, RunSettings as RunSettings
from usi.run.judge import judge_file as judge_file
from usi.run.runner import run_episodes as run_episodes
from usi.tau.simulators import SimulatorSpec as SimulatorSpec
