"""`Pins`: blocks of code that need one setting of a shared scope (torch's TF32 flags and
thread count: the process; JAX's x64 and matmul precision: a thread) for as long as they
run, from several threads and asyncio tasks at once.

A block asks for a setting and runs under it. Blocks that ask for the same setting run
together, in any order and interleaving as they like: the first one in saves what was
there and applies the setting, the last one out puts back what was saved, exactly. A
block nested in another of the same owner (a thread, or an asyncio task) may ask for a
different setting: it applies it and, on leaving, puts back the enclosing block's.

Blocks that ask for different settings cannot run together (the scope holds one
setting), so:
- a block of another thread waits until the conflicting blocks have ended, for up to
  `WAIT_S` seconds, and then raises RuntimeError (a thread that holds a setting while it
  waits for this one would otherwise wait forever);
- a block of the same thread (another asyncio task, whose blocks would interleave with
  the waiting one's on one thread) is refused at once with RuntimeError: waiting there
  would stop the event loop for good.

No lock is held while a block runs, only while the setting is read or written: a block
never waits for another block of the same setting, so a thread pool working under the
same setting as its caller cannot deadlock on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field

WAIT_S = 60.0  # how long a block waits for another thread's conflicting blocks


def owner() -> tuple[int, object]:
    """Who runs the block: this thread, and the asyncio task it runs (None outside one)."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no event loop running in this thread
        task = None
    return threading.get_ident(), task


def owner_text(who: tuple[int, object]) -> str:
    thread = next((t.name for t in threading.enumerate() if t.ident == who[0]), str(who[0]))
    if who[1] is None:
        return f"thread {thread!r}"
    name = who[1].get_name() if hasattr(who[1], "get_name") else repr(who[1])
    return f"asyncio task {name!r} of thread {thread!r}"


@dataclass
class _Level:
    """One applied setting, the function that puts back what it replaced, and the blocks
    (tokens) running under it."""

    setting: Hashable
    undo: Callable[[], None]
    blocks: set = field(default_factory=set)


class Pins:
    """The blocks running under settings of one scope. `apply(setting)` writes the setting
    and returns the function that puts back exactly what it found; `describe(setting)`
    names a setting in messages; `why` says what makes two settings conflict."""

    def __init__(
        self,
        apply: Callable[[Hashable], Callable[[], None]],
        describe: Callable[[Hashable], str],
        why: str,
    ) -> None:
        self._apply, self._describe, self._why = apply, describe, why
        self._levels: list[_Level] = []  # the applied setting is the last one's
        self._owners: dict[object, tuple[int, object]] = {}  # token -> owner
        self._changed = threading.Condition(threading.Lock())

    @contextlib.contextmanager
    def pinned(self, setting: Hashable) -> Iterator[None]:
        token = object()
        self._enter(token, setting, owner())
        try:
            yield
        finally:
            self._leave(token)

    def _enter(self, token: object, setting: Hashable, me: tuple[int, object]) -> None:
        deadline = time.monotonic() + WAIT_S
        with self._changed:
            while True:
                level = self._admit(setting, me)
                if level is not None:
                    level.blocks.add(token)
                    self._owners[token] = me
                    return
                others = sorted(set(self._owners.values()), key=str)
                holder = self._describe(self._levels[-1].setting)
                names = ", ".join(owner_text(o) for o in others)
                asked = self._describe(setting)
                if any(o[0] == me[0] for o in others):
                    raise RuntimeError(
                        f"{asked} cannot start in {owner_text(me)} while {names} of the same "
                        f"thread is inside {holder}: {self._why}, and blocks of one thread "
                        "that interleave (asyncio tasks awaiting inside them) would compute "
                        "under each other's settings. Let one block end before the other "
                        "starts, or ask for the same settings in both"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(
                        f"{asked} waited {WAIT_S:g} s in {owner_text(me)} for {names} to "
                        f"leave {holder}: {self._why}, so blocks that ask for different "
                        "settings run one after the other. If that thread is waiting for "
                        "this one, they would wait forever: ask for the same settings in "
                        "both, or run the work outside the block"
                    )
                self._changed.wait(left)

    def _admit(self, setting: Hashable, me: tuple[int, object]) -> _Level | None:
        """The level the block joins (applied now if new), or None while it must wait."""
        levels = self._levels
        if not levels:
            levels.append(_Level(setting, self._apply(setting)))
            return levels[-1]
        if len(levels) == 1 and levels[0].setting == setting:  # the same setting: share it
            return levels[0]
        if all(o == me for o in self._owners.values()):  # nested in this owner's own blocks
            if levels[-1].setting != setting:
                levels.append(_Level(setting, self._apply(setting)))
            return levels[-1]
        return None

    def _leave(self, token: object) -> None:
        with self._changed:
            del self._owners[token]
            for level in self._levels:
                level.blocks.discard(token)
            # the top levels with no block left are undone, innermost first (a lower level
            # emptied out of order waits for the ones above it)
            while self._levels and not self._levels[-1].blocks:
                self._levels.pop().undo()
            self._changed.notify_all()


__all__ = ["Pins", "WAIT_S", "owner"]
