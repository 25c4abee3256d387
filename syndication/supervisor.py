"""`serve --workers N`: a supervisor process that keeps N hypercorn worker processes serving.

The supervisor binds the listening socket once and every worker accepts from that same socket
(passed down, not bound again with SO_REUSEPORT). There is one accept queue and the supervisor
holds it open: a connection that arrives while a worker is dead or restarting waits there and a
live worker takes it. With SO_REUSEPORT each worker has a queue of its own, and the connections
already queued on a worker that dies are reset.

Workers are ordinary (non-daemonic) processes, so they may start processes of their own (the bulk
validators, syndication/parallel.py). A worker that exits is restarted; the supervisor gives up and
exits 1 only when workers keep dying (RestartPolicy). SIGTERM or SIGINT stops the workers
gracefully and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, cast

from hypercorn.config import Config

if TYPE_CHECKING:
    from hypercorn.typing import ASGIFramework

log = logging.getLogger("syndication.supervisor")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# A worker stopping on request gets hypercorn's graceful timeout to finish its requests, then this
# much more to close the store and its validators before it is killed.
STOP_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to build its hypercorn config: plain values, cheap to send to it."""

    access_log: bool = False
    uvloop: bool = False
    graceful_timeout: float = 5.0
    # hypercorn's keep-alive timer runs from a connection's start (or its previous response) until
    # a request head is complete: it closes idle connections and cuts slow heads alike
    # (SYNDICATION_IDLE_TIMEOUT). Its read_timeout is left unset: it would also cut a client
    # that sends nothing while it waits for a long answer (a bulk write). Bodies have a
    # deadline of their own (syndication/guards.py).
    keep_alive_timeout: float = 10.0


def hypercorn_config(spec: WorkerSpec, bind: str) -> Config:
    config = Config()
    config.bind = [bind]
    config.application_path = "app:create_app()"
    # Logger objects, not "-": hypercorn then adds no handler of its own and its lines go
    # through the root logger once, in our format.
    config.accesslog = logging.getLogger("hypercorn.access") if spec.access_log else None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = spec.graceful_timeout
    config.keep_alive_timeout = spec.keep_alive_timeout
    if spec.uvloop:
        config.worker_class = "uvloop"
    return config


@dataclass
class RestartPolicy:
    """When to restart a worker that exited, and when restarting is hopeless.

    A worker that exits before its app has started (before it said it is ready) is a failed start;
    `max_failed_starts` of them in a row, with no worker becoming ready in between, mean the app
    cannot start (bad configuration, unreadable store) and restarting would only spin. Any exits
    beyond `max_exits` within `window` seconds are a crash loop. The first exit in the window is
    restarted at once; the ones after it back off exponentially.
    """

    max_failed_starts: int = 5
    max_exits: int = 10
    window: float = 60.0
    first_delay: float = 0.25
    max_delay: float = 10.0
    _failed_starts: int = 0
    _exits: deque[float] = field(default_factory=deque)

    def ready(self) -> None:
        self._failed_starts = 0

    def exited(self, *, was_ready: bool, now: float) -> float | None:
        """Seconds to wait before the restart, or None: give up."""
        self._exits.append(now)
        while self._exits[0] < now - self.window:
            self._exits.popleft()
        if not was_ready:
            self._failed_starts += 1
            if self._failed_starts >= self.max_failed_starts:
                return None
        recent = len(self._exits)
        if recent > self.max_exits:
            return None
        return 0.0 if recent == 1 else min(self.first_delay * 2 ** (recent - 2), self.max_delay)

    def reason(self) -> str:
        if self._failed_starts >= self.max_failed_starts:
            return f"{self._failed_starts} workers in a row exited before they were ready"
        return f"{len(self._exits)} worker exits within {self.window:.0f} s"


@dataclass
class _Slot:
    index: int
    process: BaseProcess | None = None
    ready_signal: Connection | None = None  # read end, until the worker says it is ready
    ready: bool = False
    restart_at: float | None = None


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "unknown status"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit status {code}"


class Supervisor:
    def __init__(
        self,
        spec: WorkerSpec,
        workers: int,
        listener: socket.socket,
        policy: RestartPolicy | None = None,
    ) -> None:
        self.spec = spec
        self.listener = listener
        self.policy = policy or RestartPolicy()
        self.slots = [_Slot(i + 1) for i in range(workers)]
        self._ctx = multiprocessing.get_context("spawn")
        self._stop_signal: int | None = None

    def run(self) -> int:
        """Serve until asked to stop (0) or until workers cannot be kept running (1)."""
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        previous_wakeup = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            status = self._loop(wake_r)
        finally:
            self._stop_all()
            signal.set_wakeup_fd(previous_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            wake_r.close()
            wake_w.close()
        log.info("all workers stopped")
        return status

    def _on_signal(self, signum: int, frame: object) -> None:
        if self._stop_signal is None:
            self._stop_signal = signum

    def _loop(self, wake: socket.socket) -> int:
        for slot in self.slots:
            self._start(slot)
        while self._stop_signal is None:
            waitables: list[Any] = [wake]
            for slot in self.slots:
                if slot.process is not None:
                    waitables.append(slot.process.sentinel)
                if slot.ready_signal is not None:
                    waitables.append(slot.ready_signal)
            due = [s.restart_at for s in self.slots if s.restart_at is not None]
            timeout = max(0.0, min(due) - time.monotonic()) if due else None
            ready = wait(waitables, timeout)
            with contextlib.suppress(BlockingIOError):
                while wake.recv(512):
                    pass
            if self._stop_signal is not None:
                break
            for slot in self.slots:
                if slot.ready_signal is not None and slot.ready_signal in ready:
                    self._read_ready(slot)
            for slot in self.slots:
                exited = slot.process is not None and slot.process.sentinel in ready
                if exited and not self._reap(slot):
                    log.error("giving up: %s", self.policy.reason())
                    return 1
            now = time.monotonic()
            for slot in self.slots:
                if slot.restart_at is not None and slot.restart_at <= now:
                    self._start(slot)
        log.info(
            "%s: stopping %d worker(s)",
            signal.Signals(self._stop_signal).name,
            sum(s.process is not None for s in self.slots),
        )
        return 0

    def _start(self, slot: _Slot) -> None:
        reader, writer = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=run_worker,
            args=(self.spec, self.listener, writer, os.getpid()),
            name=f"syndication-worker-{slot.index}",
        )
        process.start()
        writer.close()  # the worker's copy is the only one: its exit closes the pipe
        slot.process, slot.ready_signal, slot.ready, slot.restart_at = process, reader, False, None
        log.info("worker %d started (pid %d)", slot.index, process.pid)

    def _read_ready(self, slot: _Slot) -> None:
        assert slot.ready_signal is not None
        assert slot.process is not None
        try:
            slot.ready_signal.recv_bytes()
        except EOFError:  # exited before it was ready; its sentinel tells the rest
            pass
        else:
            slot.ready = True
            self.policy.ready()
            log.info("worker %d ready (pid %d)", slot.index, slot.process.pid)
        slot.ready_signal.close()
        slot.ready_signal = None

    def _reap(self, slot: _Slot) -> bool:
        """Handle a worker that exited; False when the policy gives up."""
        assert slot.process is not None
        process = slot.process
        process.join()
        if slot.ready_signal is not None:
            slot.ready_signal.close()
            slot.ready_signal = None
        slot.process = None
        delay = self.policy.exited(was_ready=slot.ready, now=time.monotonic())
        how = _describe_exit(process.exitcode)
        if delay is None:
            log.error("worker %d (pid %d) exited: %s", slot.index, process.pid, how)
            return False
        log.warning(
            "worker %d (pid %d) exited: %s; restarting in %.2f s",
            slot.index, process.pid, how, delay,
        )  # fmt: skip
        slot.restart_at = time.monotonic() + delay
        return True

    def _stop_all(self) -> None:
        running = [s.process for s in self.slots if s.process is not None]
        for process in running:
            if process.pid is not None and process.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.spec.graceful_timeout + STOP_GRACE_SECONDS
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                log.error("worker pid %s did not stop in time: killing it", process.pid)
                process.kill()
                process.join()
            elif process.exitcode != 0:
                log.warning(
                    "worker pid %s stopped: %s", process.pid, _describe_exit(process.exitcode)
                )
        for slot in self.slots:
            slot.process = None
            if slot.ready_signal is not None:
                slot.ready_signal.close()
                slot.ready_signal = None


# --- in the worker process -----------------------------------------------------------------------


def _die_with(parent: int) -> None:
    """SIGTERM (a graceful stop) when the supervisor dies, even by SIGKILL: no orphan workers.

    The supervisor starts workers from its main thread only, which lives as long as it does (the
    kernel sends the signal when the *thread* that started the child exits)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


class ReadySignal:
    """ASGI middleware that calls `on_ready` once the app's startup (lifespan) has completed."""

    def __init__(self, app: ASGIApp, on_ready: Callable[[], None]) -> None:
        self.app = app
        self.on_ready = on_ready

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_and_tell(message: Message) -> None:
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                self.on_ready()

        await self.app(scope, receive, send_and_tell)


def run_worker(spec: WorkerSpec, listener: socket.socket, ready: Connection, parent: int) -> None:
    """A worker process: the app in one hypercorn server, accepting from the shared socket."""
    _die_with(parent)
    # Ctrl-C reaches the whole process group: the supervisor sends SIGTERM, which is enough. (Once
    # serving, hypercorn handles both signals as a graceful stop.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from hypercorn.asyncio import serve

    from app import create_app
    from syndication.logs import configure as configure_logging
    from syndication.watchdog import dump_stacks_on_sigusr1

    configure_logging()
    dump_stacks_on_sigusr1()
    config = hypercorn_config(spec, f"fd://{listener.detach()}")

    def tell_ready() -> None:
        with contextlib.suppress(OSError):
            ready.send_bytes(b"ready")
        ready.close()

    app = ReadySignal(create_app(), tell_ready)
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if spec.uvloop:
        loop_factory = importlib.import_module("uvloop").new_event_loop  # optional dependency
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(cast("ASGIFramework", app), config, mode="asgi"))


def bind(host: str, port: int, backlog: int = 100) -> socket.socket:
    """The listening socket, bound and listening before any worker exists, so connections queue
    from the start."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def serve_supervised(spec: WorkerSpec, host: str, port: int, workers: int) -> int:
    try:
        listener = bind(host, port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", host, port, exc)
        return 1
    try:
        return Supervisor(spec, workers, listener).run()
    finally:
        listener.close()
