"""The benchmark's GAN section: mode collapse on the 2-D mixtures over several seeds.

Chapter 10's protocol (VEEGAN, Srivastava et al., 2017; PacGAN, Lin et al., 2018): the ring
of 8 Gaussians (radius 1, std 0.01) and the grid of 25 ({−4, −2, 0, 2, 4}², std 0.05);
2,500 samples per trained generator; a sample is *high quality* within 3 std of its nearest
centre; a mode is *captured* when it is the nearest centre of at least one high-quality
sample (:func:`genmodels.measure.sample_quality.mode_metrics`). The vanilla GAN and each
remedy of chapter 10 (:data:`genmodels.experiments.toy_gan.GAN_CONFIGS`) are trained once
per seed; the section reports mean ± standard deviation beside the published numbers.

:func:`run_gan_section` is the section as the command line runs it (the signature every
section shares; its options travel in :class:`GanBenchSettings`); :func:`run_gan_bench`
trains any list of data sets, variants and seeds. Each finished run can be appended to a
runs file at once, keyed by :func:`run_key`, so that a stopped benchmark resumes where it
stopped.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from genmodels.bench.provenance import git_commit
from genmodels.core.device import describe_device, pick_device
from genmodels.core.files import refuse_tracked, write_text_atomically
from genmodels.core.validation import check_positive_int
from genmodels.experiments.toy_gan import (
    DEFAULT_SETTINGS,
    GAN_CONFIGS,
    MIXTURES,
    PUBLISHED,
    QUICK_SETTINGS,
    GanConfig,
    ToyGanSettings,
    config_by_name,
    key_fields,
    settings_for,
    train_toy_gan,
)

Log = Callable[[str], None] | None


def _mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation; ``None`` if any value is ``None`` (infinite)."""
    if any(v is None for v in values):
        return None, None
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, std


def result_row(dataset: str, config: GanConfig, per_seed: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One row of the benchmark's table: ``config`` on ``dataset``, its ``per_seed``
    results, and their means and sample standard deviations (``None`` where a run's reverse
    KL is infinite)."""
    mean, std = {}, {}
    for key in ("modes_captured", "high_quality_share", "reverse_kl", "wall_time"):
        mean[key], std[key] = _mean_std([r[key] for r in per_seed])
    return {"dataset": dataset, "config": config.name, "label": config.label,
            "pack": config.pack_for(dataset), "n_modes": MIXTURES[dataset]().n_modes,
            "per_seed": list(per_seed), "mean": mean, "std": std}


def _one_run(dataset: str, config: GanConfig, settings: ToyGanSettings, seed: int,
             device: str, threads: int | None, record_every: int | None = None
             ) -> dict[str, Any]:
    """Train one GAN and return its numbers (a top-level function, for worker processes);
    with ``record_every`` also its ``"trajectory"`` (the metrics every that many steps)."""
    if threads is not None:
        torch.set_num_threads(threads)
    run = train_toy_gan(dataset, config, settings, seed=seed, device=torch.device(device),
                        record_every=record_every)
    rkl = run.metrics.reverse_kl
    out = {
        "seed": seed,
        "modes_captured": run.metrics.modes_captured,
        "high_quality_share": run.metrics.high_quality_share,
        # inf (no high-quality sample at all) is stored as None: JSON has no inf.
        "reverse_kl": rkl if math.isfinite(rkl) else None,
        "wall_time": run.wall_time,
    }
    if record_every is not None:
        out["trajectory"] = run.trajectory
    return out


Task = tuple[str, GanConfig, ToyGanSettings, int]


def train_tasks(tasks: Sequence[Task], device: torch.device, log: Log = print, jobs: int = 1,
                runs_file: Path | str | None = None, resume: bool = False,
                record_every: int | None = None, also_from: Mapping[str, dict[str, Any]]
                | None = None) -> tuple[dict[str, dict[str, Any]], int]:
    """Train each ``(dataset, config, settings, seed)`` of ``tasks`` once; return the results
    by :func:`run_key` and how many were reused rather than trained.

    The runs file, ``resume`` and ``jobs`` work as in :func:`run_gan_bench`; ``also_from``
    holds more finished runs (by key) that ``resume`` may reuse, e.g. an archive tracked by
    git (:func:`read_finished_runs`), which is only read. ``record_every``: see
    :func:`_one_run` (it is part of each run's key).
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}.")
    if record_every is not None:
        check_positive_int(record_every, "record_every", hint="steps between snapshots, or None")
    keyed = {run_key(*task, record_every=record_every): task for task in tasks}
    outcomes: dict[str, dict[str, Any]] = {}
    log_path = Path(runs_file) if runs_file is not None else None
    git = git_commit() if log_path is not None else None
    commit = None if git is None else git["commit"]
    finished = _open_runs_log(log_path, resume, log) if log_path is not None else {}
    if resume:
        known = {**(also_from or {}), **finished}
        # Reused results keep "from_commit": the code that produced them.
        outcomes = {key: known[key] for key in keyed if key in known}
        if log is not None:
            log(f"  resuming from {log_path or 'the runs given'}: {len(outcomes)} run(s) reused, "
                f"{len(keyed) - len(outcomes)} to train")
    reused = len(outcomes)
    todo = [(key, task) for key, task in keyed.items() if key not in outcomes]

    def record(key: str, task: Task, out: dict[str, Any]) -> None:
        dataset, config, _, seed = task
        outcomes[key] = out
        if log_path is not None:
            with log_path.open("a") as f:
                saved = {**out, "from_commit": commit}
                f.write(json.dumps({"key": key, "result": saved}, allow_nan=False) + "\n")
                f.flush()
                os.fsync(f.fileno())  # on disk before the next run starts
        if log is not None:
            log(f"  {dataset:4s} {config.name:16s} seed {seed}: {out['modes_captured']} modes, "
                f"{100 * out['high_quality_share']:.1f}% high quality ({out['wall_time']:.1f} s)")

    if jobs == 1:
        for key, task in todo:
            record(key, task, _one_run(*task, str(device), None, record_every))
    else:
        import concurrent.futures as cf
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(jobs, mp_context=context) as pool:
            futures = {pool.submit(_one_run, *task, str(device), 1, record_every): (key, task)
                       for key, task in todo}
            for future in cf.as_completed(futures):
                record(*futures[future], future.result())
    return outcomes, reused


def run_gan_bench(
    seeds: Sequence[int] = range(5),
    datasets: Sequence[str] = ("ring", "grid"),
    configs: Sequence[GanConfig] = GAN_CONFIGS,
    settings: ToyGanSettings | Mapping[str, ToyGanSettings] | None = None,
    device: torch.device | None = None,
    log: Callable[[str], None] | None = print,
    jobs: int = 1,
    runs_file: Path | str | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Train every ``config`` on every ``dataset`` once per seed; return a JSON-able dict.

    With ``jobs > 1`` the runs are spread over that many worker processes (one CPU thread
    each), which pays off on a multi-core CPU since each tiny 2-D GAN uses one core.

    With ``runs_file`` every finished run is appended to that file at once (one JSON line
    with its data set, variant, settings, seed and numbers), so that a stopped benchmark
    loses nothing. Without ``resume`` a previous file is kept, renamed to
    ``<name>.<time>.jsonl`` (:func:`rotate_runs_log`), and a new one is started; with ``resume`` the runs
    already in it whose data set, variant, settings and seed match a task are reused, not
    retrained (the count is returned as ``"reused_runs"``; each reused result carries
    ``"from_commit"``, the commit of the code that produced it).

    Returns ``{"settings", "configs", "protocol", "seeds", "published", "results",
    "wall_time"}`` where each entry of ``results`` is ``{"dataset", "config", "label",
    "pack", "n_modes", "per_seed": [{"seed", "modes_captured", "high_quality_share",
    "reverse_kl", "wall_time"}], "mean": {...}, "std": {...}}`` (means and sample standard
    deviations over the seeds; a reverse KL is ``None`` when it is infinite).
    """
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty: pass at least one seed, e.g. --seeds 5.")
    device = device if device is not None else pick_device()
    start = time.perf_counter()
    tasks = [(dataset, config, settings_for(dataset, settings), seed)
             for dataset in datasets for config in configs for seed in seeds]
    by_key, reused = train_tasks(tasks, device, log, jobs, runs_file, resume)
    outcomes = {(t[0], t[1].name, t[3]): by_key[run_key(*t)] for t in tasks}
    results = []
    for dataset in datasets:
        for config in configs:
            per_seed = [outcomes[dataset, config.name, seed] for seed in seeds]
            results.append(result_row(dataset, config, per_seed))
    return {
        "settings": {d: asdict(settings_for(d, settings)) for d in datasets},
        "configs": [asdict(c) for c in configs],
        "protocol": {
            "ring": "8 Gaussians on a circle of radius 1, std 0.01",
            "grid": "25 Gaussians centred on {-4,-2,0,2,4}^2, std 0.05",
            "n_samples": settings_for(datasets[0], settings).n_eval,
            "high_quality": "within 3 std of the nearest centre",
            "mode_captured": "nearest centre of >= 1 high-quality sample",
        },
        "seeds": seeds,
        "jobs": jobs,
        "published": list(PUBLISHED),
        "results": results,
        "reused_runs": reused,
        "wall_time": time.perf_counter() - start,
    }


RESULT_FIELDS = ("seed", "modes_captured", "high_quality_share", "reverse_kl", "wall_time")


def rotate_runs_log(path: Path) -> Path | None:
    """Keep the runs log ``path`` of an earlier benchmark: rename it (a symlink: the link
    itself) to ``<stem>.<UTC time of its last change>.jsonl`` beside it, a name not taken yet.
    Returns the new name, or ``None`` when there was nothing to keep (no file, or empty)."""
    if not path.is_symlink() and (not path.exists() or path.stat().st_size == 0):
        return None
    try:
        mtime = path.lstat().st_mtime
    except OSError:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(mtime))
    for n in range(1000):
        kept = path.with_name(f"{path.stem}.{stamp}{'' if n == 0 else f'-{n}'}{path.suffix or '.jsonl'}")
        if not kept.exists() and not kept.is_symlink():
            os.rename(path, kept)
            return kept
    raise FileExistsError(f"cannot keep the runs log {path}: 1000 kept copies of {stamp} exist; "
                          "move the old ones away.")


def _open_runs_log(path: Path, resume: bool, log: Log) -> dict[str, dict[str, Any]]:
    """Prepare the runs log before any training; return the runs it holds if ``resume``.

    A file tracked by git is refused. With ``resume`` the finished runs are read (a cut-off
    last line is dropped) and the file is rewritten atomically without the cut-off line (a
    symlink is replaced by a file), so new runs append cleanly. Without ``resume`` the
    previous file is kept under another name (:func:`rotate_runs_log`), never emptied."""
    refuse_tracked(path, "runs_file (--runs-file)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if resume:
        finished = read_finished_runs(path)
        write_text_atomically(path, "".join(json.dumps({"key": k, "result": r}, allow_nan=False)
                                            + "\n" for k, r in finished.items()),
                              what="runs_file (--runs-file)")
        return finished
    kept = rotate_runs_log(path)
    if kept is not None and log is not None:
        log(f"  kept the previous runs log as {kept} (pass --resume to reuse its runs); "
            f"recording into a new {path}")
    return {}


def run_key(dataset: str, config: GanConfig, settings: ToyGanSettings, seed: int,
            record_every: int | None = None) -> str:
    """What identifies one run of the benchmark: a canonical JSON string of its data set,
    variant, settings and seed, and ``record_every`` when it is given (recording draws
    from the run's random generator); two runs with the same key give the same numbers on
    the same machine and code. Fields added to the settings later are left out while they hold
    their default (:func:`~genmodels.experiments.toy_gan.key_fields`), so older runs still
    match."""
    identity: dict[str, Any] = {"dataset": dataset, "config": key_fields(config),
                                "settings": key_fields(settings), "seed": seed}
    if record_every is not None:
        identity["record_every"] = record_every
    return json.dumps(identity, sort_keys=True)


def read_finished_runs(path: Path | str) -> dict[str, dict[str, Any]]:
    """The runs recorded in a ``runs_file`` of :func:`run_gan_bench`, by :func:`run_key`.

    A missing file holds no runs. A line cut off by a stopped benchmark (the last one, not
    valid JSON) is skipped; any other malformed line, or a run without the fields of a
    result (:data:`RESULT_FIELDS`), raises ``ValueError`` naming it, before any training.
    """
    path = Path(path)
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    finished: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            if number == len(lines):
                continue  # the run that was being written when the benchmark stopped
            raise ValueError(f"{path}, line {number}: not a run of the benchmark ({error}); "
                             "delete the line, or run without --resume (the file is then "
                             "kept under another name).") from error
        result = entry.get("result") if isinstance(entry, dict) else None
        missing = [f for f in RESULT_FIELDS if not isinstance(result, dict) or f not in result]
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or missing:
            raise ValueError(f"{path}, line {number}: not a run of the benchmark (expected "
                             f'{{"key": ..., "result": {{{", ".join(RESULT_FIELDS)}}}}}, '
                             f"missing {missing or ['key']}); delete the line, or run without "
                             "--resume (the file is then kept under another name).")
        finished[entry["key"]] = result
    return finished


# ---------------------------------------------------------------------------
# The section as ``python -m genmodels.bench`` runs it
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GanBenchSettings:
    """What the GAN section trains, and where it records its runs.

    ``n_seeds`` seeds per (data set, variant), ``seed`` … ``seed + n_seeds − 1`` (one seed in
    a quick run); the data sets (``"ring"``, ``"grid"``) and the variants (names of
    :data:`genmodels.experiments.toy_gan.GAN_CONFIGS`); ``steps`` training steps per GAN
    (``None``: each data set's tuned budget in
    :data:`genmodels.experiments.toy_gan.DEFAULT_SETTINGS`, or
    :data:`~genmodels.experiments.toy_gan.QUICK_SETTINGS`'s in a quick run); ``jobs`` worker
    processes; ``runs_file`` (``None``: none) and ``resume``, as in :func:`run_gan_bench`.
    """

    n_seeds: int = 5
    datasets: tuple[str, ...] = ("ring", "grid")
    configs: tuple[str, ...] = tuple(c.name for c in GAN_CONFIGS)
    steps: int | None = None
    jobs: int = 1
    runs_file: Path | None = None
    resume: bool = False

    def __post_init__(self) -> None:
        check_positive_int(self.n_seeds, "GanBenchSettings.n_seeds (--seeds)")
        check_positive_int(self.jobs, "GanBenchSettings.jobs (--jobs)")
        if self.steps is not None:
            check_positive_int(self.steps, "GanBenchSettings.steps (--steps)")
        for name, values in (("datasets", self.datasets), ("configs", self.configs)):
            if isinstance(values, str) or not values:
                raise ValueError(f"GanBenchSettings.{name} must be a non-empty tuple of names, "
                                 f"got {values!r}; e.g. {name}=({values!r},) for one.")
        unknown = [d for d in self.datasets if d not in MIXTURES]
        if unknown:
            raise ValueError(f"unknown dataset {unknown[0]!r} in GanBenchSettings.datasets "
                             f"(--datasets); expected some of: {', '.join(MIXTURES)}.")
        for name in self.configs:
            config_by_name(name)  # raises, naming the known variants

    def toy_gan_settings(self, quick: bool) -> dict[str, ToyGanSettings]:
        """The :class:`~genmodels.experiments.toy_gan.ToyGanSettings` of each data set: the
        tuned ones, with the quick run's steps if ``quick``, then with ``steps`` if given."""
        settings = {d: DEFAULT_SETTINGS[d] for d in self.datasets}
        if quick:
            settings = {d: replace(s, steps=QUICK_SETTINGS.steps) for d, s in settings.items()}
        if self.steps is not None:
            settings = {d: replace(s, steps=self.steps) for d, s in settings.items()}
        return settings

    def seeds(self, seed: int, quick: bool) -> range:
        """The seeds trained: ``seed`` … ``seed + n_seeds − 1``, only ``seed`` if ``quick``."""
        return range(seed, seed + (1 if quick else self.n_seeds))


def run_gan_section(settings: GanBenchSettings | None = None, *, quick: bool = False,
                    seed: int = 0, device: torch.device | None = None, log: Log = print
                    ) -> dict[str, Any]:
    """Chapter 10's mode-collapse table: every variant on every data set, once per seed.

    ``settings`` (default :class:`GanBenchSettings`) chooses the data sets, variants,
    seeds, steps, workers and the runs file; ``quick`` trains
    :data:`~genmodels.experiments.toy_gan.QUICK_SETTINGS`'s steps on one seed. Returns
    :func:`run_gan_bench`'s dict with the ``chapter`` and the ``device`` and ``torch_threads``
    it ran with.
    """
    settings = settings if settings is not None else GanBenchSettings()
    if not isinstance(settings, GanBenchSettings):
        raise TypeError(f"settings must be a GanBenchSettings, got {type(settings).__name__}; "
                        "e.g. GanBenchSettings(n_seeds=2, datasets=('ring',)).")
    device = device if device is not None else pick_device()
    seeds = settings.seeds(seed, quick)
    configs = [config_by_name(c) for c in settings.configs]
    if log is not None:
        log(f"  {len(settings.datasets)} data sets × {len(configs)} variants × {len(seeds)} "
            f"seeds, {settings.jobs} job(s)")
    section = run_gan_bench(seeds, settings.datasets, configs, settings.toy_gan_settings(quick),
                            device, log=log, jobs=settings.jobs, runs_file=settings.runs_file,
                            resume=settings.resume)
    return {"chapter": "ch10_gan_remedies", **section, "device": describe_device(device),
            "torch_threads": torch.get_num_threads()}
