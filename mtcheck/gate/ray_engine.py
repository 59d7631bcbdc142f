"""The gate's checks on a Ray cluster (``mtcheck gate --ray``): a Ray Data actor pool.

:class:`RayEngine` is the other implementation of the engine seam :class:`~mtcheck.gate.LocalEngine`
fills: it maps chunks of texts to their results, in order. The gate around it (readers, documents,
result cache, de-duplication, progress, summary, formats) is the same code for both engines.

- Each actor builds one :class:`~mtcheck.pipeline.Checker` from the run's config, so the model is
  loaded once per actor and ``--device`` is honoured there; a GPU per actor is Ray's to assign.
- Results travel back as the result cache's JSON payload, so a document's result is the same
  wherever it ran.
- A worker that dies has its batch retried by Ray on a new actor; a document whose check raises
  comes back as a failed result (:func:`~mtcheck.gate.check_texts`), not a lost run.

Ray is imported only when the engine runs (``pip install 'mtcheck[ray]'``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mtcheck.config import Config
from mtcheck.errors import MtcheckError
from mtcheck.gate.cache import CheckResult

INSTALL = "pip install 'mtcheck[ray]'"
LOCAL = "local"  # --ray with no address: start a Ray on this machine for the run


@dataclass(frozen=True)
class RaySettings:
    """Where and how wide to run: ``address`` is ``local``, ``auto`` or a cluster's ``HOST:PORT``."""

    address: str = LOCAL
    workers: int | None = None  # default: as many as the cluster's CPUs (or GPUs) allow
    cpus_per_worker: int = 1  # Ray sets each actor's OMP_NUM_THREADS to it: torch's threads
    gpus_per_worker: float = 0.0
    batch_size: int = 64


def import_ray() -> Any:
    """Ray with its Data library, or one line saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401 - needs pandas and pyarrow, which the extra brings
    except ImportError as exc:
        raise MtcheckError(f"--ray needs Ray Data, which is not installed ({exc.name}): {INSTALL}") from None
    return ray


def check_address(address: str) -> str:
    """The address as given, or one line on why Ray cannot run the gate there."""
    if address.startswith("ray://"):
        # Ray Data needs a driver on a node of the cluster: ray-project/ray#48682.
        raise MtcheckError(
            f"--ray {address}: the Ray client (ray://) cannot run Ray Data; run mtcheck on a node of the "
            "cluster with --ray auto, or submit it there as a Ray job (docs/scale-out.md)"
        )
    return address


def _make_checker(config: Config) -> Any:
    from mtcheck.pipeline import Checker

    return Checker(config)


def _actor_class(config: Config, make_checker: Callable[[Config], Any]) -> type:
    """A callable class for ``map_batches``; the config travels inside it (no constructor arguments)."""

    class CheckActor:
        def __init__(self) -> None:
            self.checker = make_checker(config)

        def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
            from mtcheck.gate.run import check_texts

            texts = [bytes(text).decode("utf-8", "surrogatepass") for text in batch["text"]]
            results = check_texts(self.checker, texts)
            wire = [json.dumps({"error": r.error} if r.error is not None else r.to_payload()) for r in results]
            return {"index": batch["index"], "result": wire}

    return CheckActor


def _from_wire(wire: str, text: str) -> CheckResult:
    payload = json.loads(wire)
    if "error" in payload:
        return CheckResult.failed(payload["error"])
    return CheckResult.from_payload(payload, len(text))


class RayEngine:
    """Checks chunks of texts on a Ray cluster, in order; connects when it first runs."""

    slice_chars = 64_000_000  # each slice starts a pool of actors: seconds, so fewer, larger slices

    def __init__(
        self, config: Config, settings: RaySettings, make_checker: Callable[[Config], Any] = _make_checker
    ) -> None:
        self.config = config
        self.settings = settings
        self.make_checker = make_checker  # a picklable factory; tests pass one that misbehaves

    @contextlib.contextmanager
    def session(self) -> Iterator[Any]:
        """Ray, connected for every ``map`` inside (a corpus checked slice by slice); stopped at the
        end when this session started it."""
        ray = import_ray()
        started_here = _connect(ray, self.settings.address)
        try:
            yield ray
        finally:
            if started_here:
                ray.shutdown()  # a Ctrl-C lands here too: the actors of this run stop with it

    def map(self, chunks: Sequence[list[str]]) -> Iterator[list[CheckResult]]:
        texts = [text for chunk in chunks for text in chunk]
        if not texts:
            return
        with self.session() as ray:
            rows = _reraised_plainly(ray, self._results(ray, texts))
            try:
                position = 0
                for chunk in chunks:
                    out = []
                    for text in chunk:
                        row = next(rows)
                        if int(row["index"]) != position:  # preserve_order is on; a break in it is a bug
                            raise RuntimeError(f"Ray returned document {row['index']} where {position} was due")
                        out.append(_from_wire(row["result"], text))
                        position += 1
                    yield out
                next(rows, None)  # to its end, so Ray Data closes the run's execution itself
            finally:
                rows.close()

    def _results(self, ray: Any, texts: list[str]) -> Iterator[dict[str, Any]]:
        settings = self.settings
        batches = -(-len(texts) // settings.batch_size)
        fits = pool_size(ray.cluster_resources(), settings.workers, settings.cpus_per_worker, settings.gpus_per_worker)
        size = min(fits, batches)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False  # the gate draws its own
        # As bytes: Arrow strings must be valid UTF-8, and a JSONL escape can make a lone surrogate.
        items = [{"index": i, "text": t.encode("utf-8", "surrogatepass")} for i, t in enumerate(texts)]
        dataset = ray.data.from_items(items, override_num_blocks=batches)
        checked = dataset.map_batches(
            _actor_class(self.config, self.make_checker),
            batch_size=settings.batch_size,
            compute=ray.data.ActorPoolStrategy(size=size),
            num_cpus=settings.cpus_per_worker,
            num_gpus=settings.gpus_per_worker or None,
            batch_format="numpy",
        )
        return iter(checked.iter_rows())


def _reraised_plainly(ray: Any, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Ray's rows; a run Ray gives up on (a worker that cannot start, say) is one line, not a
    remote traceback. Checks that raise never get here: they come back as failed results."""
    try:
        yield from rows
    except ray.exceptions.RayError as exc:
        lines = [line for line in str(exc).splitlines() if line.strip() and not line[0].isspace()]
        raise MtcheckError(f"the Ray run failed: {lines[-1] if lines else type(exc).__name__}") from None


def pool_size(resources: dict[str, float], workers: int | None, cpus_per_worker: int = 1,
              gpus_per_worker: float = 0.0) -> int:
    """How many actors to start: ``workers``, or as many as the cluster's CPUs (GPUs) hold.
    Asking for more than the cluster has is an error, not a run that waits for ever."""
    cpus = int(resources.get("CPU", 0))
    if gpus_per_worker > 0:
        gpus = resources.get("GPU", 0.0)
        fits = min(int(gpus // gpus_per_worker), cpus // cpus_per_worker)
        what = f"{gpus:g} GPU" + ("" if gpus == 1 else "s") + f" and {cpus} CPU" + ("" if cpus == 1 else "s")
        need = f"--gpus-per-worker {gpus_per_worker:g}, --cpus-per-worker {cpus_per_worker}"
    else:
        fits = cpus // cpus_per_worker
        what = f"{cpus} CPU" + ("" if cpus == 1 else "s")
        need = f"--cpus-per-worker {cpus_per_worker}"
    if fits < 1:
        raise MtcheckError(f"the Ray cluster has {what}: not enough for one worker ({need})")
    if workers is not None and workers > fits:
        raise MtcheckError(f"--workers {workers} needs more than the Ray cluster's {what} ({need})")
    return workers or fits


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _connect(ray: Any, address: str) -> bool:
    """Connect to (or start) Ray quietly; True when this call started it and must stop it."""
    if ray.is_initialized():
        return False
    # Ray's C++ core warns about actor restarts (which the gate relies on) and, when told to keep
    # quiet, says so at start-up on the process's own stderr: start it with that silenced.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    options: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address == LOCAL:
        options["include_dashboard"] = False
    else:
        options["address"] = address
    try:
        with _stderr_silenced():
            ray.init(**options)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = ""
        if os.environ.get("RAY_AUTH_MODE") != "token":  # Ray does not say why; a token is the usual reason
            hint = " (a cluster with token authentication needs RAY_AUTH_MODE=token and its token here)"
        raise MtcheckError(f"cannot connect to Ray at {address}: {first}{hint}") from None
    for name in ("ray", "ray.data"):  # Ray Data logs every execution at INFO
        logging.getLogger(name).setLevel(logging.ERROR)
    return True
