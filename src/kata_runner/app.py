"""What every verb of the `kata` command needs: the catalogue, the workspace and its practice loop,
the screen. The command (`cli`) and the views share it."""

from __future__ import annotations

from rich.console import Console

from kata_runner import render
from kata_runner.catalog import Catalog, Kata
from kata_runner.practice import Practice
from kata_runner.workspace import Workspace

__all__ = ["App"]


class App:
    """What every verb needs: the catalogue, the workspace and its practice loop, the screen."""

    def __init__(
        self,
        catalog: Catalog | None = None,
        out: Console | None = None,
        err: Console | None = None,
        workspace: Workspace | None = None,
    ) -> None:
        self.catalog = catalog or Catalog()
        self.screen = render.Screen(
            out or Console(highlight=False), err or Console(stderr=True, highlight=False)
        )
        self._workspace = workspace
        self._practice: Practice | None = None
        self.writes = False  # set for the verbs that write the history

    def kata(self, typed: str) -> Kata:
        return self.catalog.resolve(typed)

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = Workspace.resolve()
        return self._workspace

    @property
    def practice(self) -> Practice:
        """The practice loop; the first use says which workspace it works in."""
        if self._practice is None:
            self.screen.chatter(f"workspace: {self.workspace.path} ({self.workspace.why})")
            self._practice = Practice(self.catalog, self.workspace, creates=self.writes)
        return self._practice

    def close(self) -> None:
        if self._practice is not None:
            for notice in self._practice.take_notices():
                self.screen.warn(notice)
            self._practice.close()
