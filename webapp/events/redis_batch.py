"""Script calls from many greenlets sent to Redis together: one round trip for all waiting.

A worker has two pooled Redis connections (three with its pub/sub one: Heroku's plans count
them). A publish to a large group holds its connection while the script runs (about 10 ms for
1,000 recipients) and then until its greenlet is scheduled again, which on a busy worker takes
longer still; with two connections, webhooks queued for them, and that wait, not Redis or
the worker, capped a broadcast's rate (docs/benchmarks.md, "Publishes sent together").

So publishes go through a :class:`ScriptBatcher`. The first call *leads*: it takes a pooled
connection, then every call waiting by then, hands the lead to whoever comes next, and sends
them as one pipeline, giving each caller its own answer or error. The next leader does the
same on the pool's other connection, so up to two batches are out at once and Redis always
has the next one at hand; a third waits for a connection while calls gather behind it. A call
made alone costs about what it did before: one round trip on a pooled connection.
"""

from __future__ import annotations

import threading
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from webapp import deadline

#: Calls sent in one pipeline at most (a large group's publish is ~10 ms of Redis each).
MAX_BATCH = 32
#: How long a call waits for its turn outside any deadline (the pool's own wait).
WAIT_SECONDS = 5.0


_UNSET: Any = object()


class _Call:
    __slots__ = ("script", "args", "answer", "error", "done", "lead")

    def __init__(self, script: Script, args: list[Any]) -> None:
        self.script = script
        self.args = args
        self.answer: Any = _UNSET
        self.error: BaseException | None = None
        self.done: threading.Event | None = None  # made only for a call that waits
        self.lead = False

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.answer


class ScriptBatcher:
    """Runs ``EVALSHA`` calls on ``client``, those made meanwhile together (module docstring)."""

    def __init__(self, client: redis.Redis, max_batch: int = MAX_BATCH) -> None:
        self._client = client
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Call] = []
        self._sending = False
        #: Round trips made and calls they carried (for tests and benchmarks).
        self.round_trips = 0
        self.calls = 0

    @property
    def waiting(self) -> int:
        """Calls not sent yet."""
        return len(self._waiting)

    def call(self, script: Script, args: list[Any]) -> Any:
        """``script`` run with ``args`` (no keys); raises what redis-py raises."""
        me = _Call(script, args)
        with self._lock:
            self._waiting.append(me)
            if self._sending:
                me.done = threading.Event()
            else:
                self._sending = me.lead = True
        if not me.lead:
            self._wait_turn(me)
            if not me.lead:
                return me.result()
        self._lead(me)
        return me.result()

    def _wait_turn(self, me: _Call) -> None:
        """Until ``me`` is answered or leads; at the deadline (or the pool's wait) it gives up:
        unsent, it leaves the queue (raising as a pool wait that timed out does); sent, the
        answer is not waited for."""
        assert me.done is not None
        if me.done.wait(deadline.capped(WAIT_SECONDS)):
            return
        with self._lock:
            if me.done.is_set():
                return
            if me in self._waiting:
                self._waiting.remove(me)
                raise redis.ConnectionError("No connection available.")
        raise redis.TimeoutError("Timeout reading from the batch's pipeline")

    def _lead(self, me: _Call) -> None:
        """Take a connection, then everything waiting by then (this call first), hand the
        lead on, and send: while Redis runs one batch, the next can be sent on the pool's
        other connection, so Redis always has the next one at hand."""
        pipe = self._client.pipeline(transaction=False)
        try:
            pipe.connection = self._client.connection_pool.get_connection()
        except BaseException:
            with self._lock:
                self._waiting.remove(me)
                self._hand_over()
            raise
        with self._lock:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            self._hand_over()
        self.round_trips += 1
        self.calls += len(batch)
        try:
            self._send(pipe, batch)
        except BaseException as exc:  # every caller learns why
            # The leader's greenlet killed (a worker exiting): the others see a lost connection.
            theirs = exc if isinstance(exc, Exception) else redis.ConnectionError(repr(exc))
            for call in batch:
                if call.answer is _UNSET and call.error is None:
                    call.error = exc if call is me else theirs
        finally:
            pipe.reset()  # the connection back to the pool
            for call in batch:
                if call.done is not None:
                    call.done.set()

    def _hand_over(self) -> None:
        """The lead to the first call waiting, if any (with the lock held)."""
        if self._waiting:
            following = self._waiting[0]
            following.lead = True
            assert following.done is not None
            following.done.set()
        else:
            self._sending = False

    def _send(self, pipe: Any, batch: list[_Call]) -> None:
        pending = batch
        for _ in range(2):  # once more for those whose script Redis no longer had
            for call in pending:
                self._evalsha(pipe, call)
            answers = pipe.execute(raise_on_error=False)
            missing = []
            for call, answer in zip(pending, answers, strict=True):
                if isinstance(answer, NoScriptError):
                    missing.append(call)
                elif isinstance(answer, Exception):
                    call.error = answer
                else:
                    call.answer = answer
            if not missing:
                return
            # A Redis that lost its script cache (restart, SCRIPT FLUSH): load, send again.
            for script in {id(call.script): call.script for call in missing}.values():
                script.sha = self._client.script_load(script.script)
            pending = missing
        for call in pending:
            call.error = NoScriptError("the script could not be loaded")

    @staticmethod
    def _evalsha(client: Any, call: _Call) -> Any:
        # Straight through ``execute_command``: redis-py's ``Script.__call__`` costs ~3 % of a
        # webhook's CPU (docs/benchmarks.md).
        return client.execute_command("EVALSHA", call.script.sha, 0, *call.args)
