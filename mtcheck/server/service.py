"""The checking service behind ``mtcheck serve`` (the HTTP app is :mod:`mtcheck.server.app`).

Concurrency: one :class:`CheckService` per server holds the configuration and the language model,
loaded once before the server binds. Checking is CPU-bound, so it never runs on the event loop:

- requests that use the model run in worker threads (at most ``threads`` at once); the fluency
  model is wrapped so that one thread at a time calls it (a torch model shared between threads
  gains nothing on a CPU and is not documented as thread-safe);
- heuristics-only requests run in a small pool of worker processes when ``processes`` > 0 (each
  builds its own light Checker; torch is never imported there), else in the same worker threads.
  Pure-Python rules in threads hold the GIL and starve the event loop: with 50 clients
  (scripts/loadtest.py) threads gave several times the p99 latency of the process pool and less
  throughput.

Per-request options never touch the shared Checker: a request that changes select/ignore/lm gets
its own light Checker that shares the same locked model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from mtcheck.config import Config
from mtcheck.findings import Report
from mtcheck.pipeline import Checker
from mtcheck.rules.base import Rule, all_rules
from mtcheck.server.schemas import CheckOptions

log = logging.getLogger("mtcheck.server.service")

DEFAULT_THREADS = 4
DEFAULT_MAX_QUEUE = 32  # checks accepted at once (running and waiting); more get 503 at once
DEFAULT_REQUEST_TIMEOUT = 60.0  # seconds a check may take, waiting included, before 503
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
FLUENCY_CODES = ("F001", "F002")

# -- the checking service ---------------------------------------------------------------------------


class OptionError(ValueError):
    """A request's options cannot be honoured by this server (for example lm without a model)."""


class LockedFluency:
    """The shared fluency model behind a lock: one thread at a time calls the language model."""

    def __init__(self, model: Any, lock: threading.Lock | None = None) -> None:
        self.model = model
        self.lock = lock or threading.Lock()

    def analyse(self, documents: Sequence[Any], ctx: Any, spans: bool = True, progress: Any = None) -> Any:
        with self.lock:
            return self.model.analyse(documents, ctx, spans=spans, progress=progress)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


class CheckService:
    """The configuration, the shared Checker and the model, created once per server."""

    def __init__(self, config: Config | None = None, fluency: Any = None, threads: int = DEFAULT_THREADS,
                 processes: int = 0) -> None:
        config = config or Config()
        if fluency is None and config.lm and config.enabled("F"):
            from mtcheck.fluency.detector import Detector

            fluency = Detector.from_config(config)  # loaded here, once, before any request
        self.fluency = LockedFluency(fluency) if fluency is not None else None
        base = config if self.fluency is not None else config.merged(lm=False)
        self.checker = Checker(base, fluency=self.fluency)
        self.threads = threads
        self.processes = processes
        self.rules = rule_rows(all_rules())
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def config(self) -> Config:
        return self.checker.config

    @property
    def model_loaded(self) -> bool:
        return self.fluency is not None

    @property
    def model_identity(self) -> str | None:
        if self.fluency is None:
            return None
        scorer = getattr(self.fluency.model, "scorer", None)
        return getattr(scorer, "identity", None) or type(self.fluency.model).__name__

    def checker_for(self, options: CheckOptions) -> Checker:
        """The shared Checker, or a light one for this request's options (sharing the locked model)."""
        lm = self.config.lm if options.lm is None else options.lm
        if lm and not self.model_loaded:
            raise OptionError("the language model is not loaded on this server (started with --no-lm); "
                              "send options.lm = false or leave it out")
        select = tuple(options.select) if options.select else self.config.select
        ignore = self.config.ignore + tuple(c for c in options.ignore or () if c not in self.config.ignore)
        config = self.config.merged(select=select, ignore=ignore)
        # No fluency rule left to report: do not spend the model's time (and use the fast path).
        lm = lm and any(config.enabled(code) for code in FLUENCY_CODES)
        config = config.merged(lm=lm)
        if config == self.config:
            return self.checker
        return Checker(config, fluency=self.fluency if lm else None)

    def check(self, text: str, source: str, options: CheckOptions) -> Report:
        """Check one text synchronously (call from a worker thread)."""
        return self.checker_for(options).check(text, source)

    # -- worker processes for heuristics-only checks ------------------------------------------------
    def pool(self) -> ProcessPoolExecutor | None:
        with self._pool_lock:
            if self._pool is None and self.processes > 0:
                # spawn, not fork: the server has threads (and maybe torch) that must not be forked.
                self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"))
            return self._pool

    def discard_pool(self, broken: ProcessPoolExecutor) -> None:
        with self._pool_lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def warm_up(self) -> None:
        """Start every worker process now (imports take a moment) rather than on the first requests."""
        pool = self.pool()
        if pool is not None:
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(pool, _warm_worker) for _ in range(self.processes)))

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _warm_worker() -> int:
    # A real check loads what the rules load lazily (word lists, compiled patterns).
    return len(Checker(Config(lm=False)).check("Warm up. . The the text is \"quoted.", "-").findings)


def check_and_render(checker: Checker, text: str, source: str, fmt: str) -> bytes:
    """The answer's body: the report checked and rendered, done off the event loop."""
    report = checker.check(text, source)
    if fmt == "json":
        return json.dumps(report.to_dict(), ensure_ascii=False).encode("utf-8")
    from mtcheck.formats import render

    return render(report, fmt, rules=all_rules()).encode("utf-8")


def check_in_worker(config: Config, text: str, source: str, fmt: str) -> bytes:
    """Runs in a worker process: a light heuristics-only Checker for this request's configuration."""
    return check_and_render(Checker(config), text, source, fmt)


def rule_rows(rules: dict[str, type[Rule]]) -> list[dict[str, Any]]:
    """Every rule as ``mtcheck rules --format json`` lists it, plus whether it needs the model."""
    return [
        {
            "code": code,
            "slug": cls.slug,
            "severity": str(cls.severity),
            "family": cls.family(),
            "summary": cls.summary,
            "description": cls.description(),
            "uses_lm": bool(cls.uses_lm),
        }
        for code, cls in sorted(rules.items())
    ]
