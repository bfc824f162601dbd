"""A conversation's state: named states with guarded transitions, small and JSON-serialisable for session stores.

Kept apart from ``dialog`` (which decides replies) so the rules of what a state may hold are read in one place.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .callback import Step

MAX_RECENT = 5
MAX_OPTIONS = 3


class State(str, enum.Enum):
    """Where a conversation is: nothing shown yet, an answer on screen, options awaiting a pick, or a callback
    request being taken step by step."""

    IDLE = "idle"
    ANSWERED = "answered"
    CLARIFYING = "clarifying"
    CALLBACK = "callback"


class IllegalTransition(RuntimeError):
    """A dialog state change that would leave the conversation inconsistent (a bug, not a visitor's doing)."""


@dataclass
class ConversationState:
    """Everything a conversation remembers; small, bounded and JSON-serialisable for session stores."""

    state: State = State.IDLE
    recent: list[str] = field(default_factory=list)  # answered entries, the current topic last
    options: list[str] = field(default_factory=list)  # offered while clarifying, and only then
    wording: int = -1  # the fallback wording shown last (its index), so the next one differs
    crisis: bool = False  # a crisis turn happened: every later reply keeps the way back to the resources
    # While taking a callback request, and only then: the step asked, and the answers so far (the session store
    # holds them until the request is complete or cancelled; never the turn log).
    step: Step | None = None
    draft: dict[str, str] = field(default_factory=dict)

    def enter(self, state: State, *, options: Sequence[str] = (), answered: str | None = None,
              step: Step | None = None, draft: Mapping[str, str] | None = None) -> None:
        """Move to ``state``; clarifying needs at least two options, every other state has none; a callback has
        its step and never follows a crisis turn."""
        if state is State.CLARIFYING and len(options) < 2:
            raise IllegalTransition("clarifying needs at least two options")
        if state is not State.CLARIFYING and options:
            raise IllegalTransition(f"{state.value} has no options")
        if (state is State.ANSWERED) != (answered is not None):
            raise IllegalTransition("answered goes with the entry answered, and only it")
        if (state is State.CALLBACK) != (step is not None):
            raise IllegalTransition("callback goes with the step asked, and only it")
        if state is State.CALLBACK and self.crisis:
            raise IllegalTransition("no callback request after a crisis turn")
        self.state, self.options = state, list(options)
        self.step = step
        self.draft = dict(draft or {}) if state is State.CALLBACK else {}
        if answered is not None:
            self.recent = [e for e in self.recent if e != answered][-(MAX_RECENT - 1):] + [answered]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"state": self.state.value, "recent": list(self.recent),
                                "options": list(self.options), "wording": self.wording, "crisis": self.crisis}
        if self.step is not None:
            data.update(step=self.step.value, draft=dict(self.draft))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConversationState:
        """Rebuild from ``to_dict`` output; unknown or malformed fields fall back to a fresh state."""
        try:
            state = State(data.get("state", "idle"))
        except ValueError:
            state = State.IDLE
        recent = [str(x) for x in data.get("recent", []) if isinstance(x, str)][-MAX_RECENT:]
        options = [str(x) for x in data.get("options", []) if isinstance(x, str)][:MAX_OPTIONS]
        if state is State.CLARIFYING and len(options) < 2:
            state, options = State.IDLE, []
        if state is not State.CLARIFYING:
            options = []
        if state is State.ANSWERED and not recent:
            state = State.IDLE
        wording = data.get("wording", -1)
        crisis = data.get("crisis") is True
        step: Step | None = None
        draft: dict[str, str] = {}
        if state is State.CALLBACK:
            try:
                step = Step(data.get("step"))
            except ValueError:
                step = None
            raw = data.get("draft")
            if isinstance(raw, Mapping):
                draft = {str(k): v for k, v in raw.items() if k in ("name", "contact", "time", "note")
                         and isinstance(v, str)}
            if step is None or crisis:
                state, draft = State.IDLE, {}
        return cls(state=state, recent=recent, options=options, wording=wording if type(wording) is int else -1,
                   crisis=crisis, step=step, draft=draft)
