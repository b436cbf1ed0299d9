"""The progress of a run: a rich bar with ETA, tokens, cost and success so far, on stderr.

For a person at a terminal only: on a pipe or in a log the bar is off and the run's summary
line is all that is printed; with ``progress=False`` it only counts.
"""

from __future__ import annotations

from collections.abc import Callable

from usi.core.episode import Episode
from usi.run.episode import RunSettings


class RunProgress:
    """A rich progress bar with ETA, tokens, cost and success so far (silent when disabled)."""

    def __init__(self, total: int, settings: RunSettings, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.settings = settings
        self.tokens = 0
        self.cost = 0.0
        self.successes = 0
        self.count = 0

    def __enter__(self) -> Callable[[Episode], None]:
        if not self.enabled:
            return self._count
        from rich.console import Console
        from rich.progress import Progress

        from usi.layout import progress_columns

        # Progress is for a person at a terminal, on stderr; a pipe or a log gets only the
        # summary line.
        console = Console(stderr=True)
        self.bar = Progress(
            *progress_columns(console.width),
            console=console,
            transient=False,
            disable=not console.is_terminal,
        )
        self.bar.__enter__()
        self.task = self.bar.add_task(
            f"{self.settings.domain} · {self.settings.source}", total=self.total, stats=""
        )
        return self._advance

    def _count(self, episode: Episode) -> None:
        self.count += 1
        tokens = episode.metadata.get("tokens", {})
        self.tokens += sum(
            v.get("prompt_tokens", 0) + v.get("completion_tokens", 0) for v in tokens.values()
        )
        cost = episode.metadata.get("cost", {})
        self.cost += sum(c for c in cost.values() if isinstance(c, int | float))
        self.successes += (episode.reward or 0.0) >= 1.0

    def _advance(self, episode: Episode) -> None:
        self._count(episode)
        stats = f"tokens {self.tokens:,} · ${self.cost:.4f} · success {self.successes}/{self.count}"
        self.bar.update(self.task, advance=1, stats=stats)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.__exit__(None, None, None)
