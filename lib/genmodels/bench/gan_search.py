"""The tuning search behind the GAN benchmark: the same search for every variant.

Every variant of :data:`genmodels.experiments.toy_gan.GAN_CONFIGS` gets, on each mixture,
the same five configurations, trained once on :data:`SEARCH_SEED` (not one of the five
reported seeds 0–4) with the budget of :data:`genmodels.experiments.toy_gan.DEFAULT_SETTINGS`:

1. ``shared``: the book's shared settings (Adam, lr 10⁻³ decayed linearly to 0);
2. ``lr 3e-4``: the same with a learning rate of 3·10⁻⁴ (the learning-rate axis);
3. ``more critic steps``: the same with more discriminator steps per generator step
   (2 instead of 1; WGAN-GP 5 instead of 2: the critic-steps axis);
4. ``paper``: the settings of the variant's own paper (:data:`PAPER_SETTINGS`: its learning
   rate, kept constant, its Adam β, its critic steps and its batch);
5. ``longer``: the best of 1–4 trained for twice the steps (the steps axis).

Packing counts its batch as PacGAN's paper and code do, in packed inputs
(:attr:`~genmodels.experiments.toy_gan.GanConfig.batch_counts_packs`), in every
configuration of the search. The best configuration maximises ``modes captured / modes + high-quality share``
(:func:`score`): coverage and precision weigh the same. Each run records its metrics
every fifth of its steps (``trajectory``), which shows how far a variant is from its
plateau at our budget.

Runs go to a runs file that ``--resume`` continues (:func:`genmodels.bench.gan_runs.train_tasks`);
``final`` trains each variant's chosen configuration on the five reported seeds (0–4);
``long`` trains one configuration of the search for a long budget with a dense trajectory
(:data:`LONG_RUNS`: metrics against steps up to the largest budget we afford, for a variant
that stays far from its published row);
``publish`` writes the search's summary (:func:`summary`) into the package's results
(``bench_gan_search.json``, for chapter 10's tables and figures and the results appendix); ``archive`` merges the runs file into :data:`ARCHIVE`, a file tracked by git that only grows, so that
the search carries over between machines and sessions.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from genmodels.bench.gan_runs import (
    read_finished_runs,
    result_row,
    rotate_runs_log,
    run_key,
    train_tasks,
)
from genmodels.core.device import pick_device
from genmodels.core.files import write_text_atomically
from genmodels.core.validation import check_positive_int
from genmodels.experiments.toy_gan import (
    DEFAULT_SETTINGS,
    MIXTURES,
    PUBLISHED,
    GanConfig,
    ToyGanSettings,
    config_by_name,
)

SEARCH_SEED = 100  # the search's seed: not one of the reported seeds 0..4
FINAL_SEEDS = (0, 1, 2, 3, 4)  # the reported seeds, as the benchmark's
RECORD_FRACTION = 5  # a trajectory point every steps / 5 steps
LONG_POINTS = 10  # a long run's trajectory: a point every steps / 10 steps
# The long runs: (data set, variant, configuration of the search, steps). WGAN-GP stays far
# below its published rows (Elfeki et al. 2019, 25,000 iterations) in every configuration of
# the search; its paper's Algorithm 1, run for twice that, shows whether steps would close
# the gap.
LONG_RUNS: tuple[tuple[str, str, str, int], ...] = (
    ("ring", "wgan_gp", "paper", 50_000),
    ("grid", "wgan_gp", "paper", 50_000),
)

_ROOT = Path(__file__).resolve().parents[3]
ARCHIVE = _ROOT / "bench_runs" / "gan_search.jsonl"
RUNS_FILE = _ROOT / "_build" / "bench" / "gan_search.jsonl"


@dataclass(frozen=True)
class PaperSettings:
    """A paper's optimiser for the 2-D mixtures: Adam(``lr``, ``betas``) at a constant
    learning rate, ``k_critic`` discriminator steps, ``batch`` inputs per step."""

    lr: float
    betas: tuple[float, float]
    k_critic: int
    batch: int
    source: str


# Where a paper gives no settings for these mixtures, the protocol's own baseline stands in
# (PacGAN's code trains its GAN row with PacGAN's settings and pack 1).
_PACGAN = PaperSettings(1e-4, (0.8, 0.999), 1, 100,
                        "lin2018pacgan: code for the 2-D grid, Adam 1e-4, β₁ 0.8, batch 100")
PAPER_SETTINGS: dict[str, PaperSettings] = {
    "vanilla": replace(_PACGAN, source="the protocol's GAN row (lin2018pacgan's code)"),
    "non_saturating": replace(_PACGAN, source="the protocol's GAN row (lin2018pacgan's code)"),
    "label_smoothing": PaperSettings(3e-4, (0.5, 0.999), 1, 100,
                                     "salimans2016improved: Adam 3e-4, β₁ 0.5, batch 100"),
    "minibatch_std": PaperSettings(1e-3, (0.0, 0.99), 1, 256,
                                   "karras2018progressive: Adam 1e-3, β = (0, 0.99)"),
    "pacgan": _PACGAN,
    "wgan_gp": PaperSettings(1e-4, (0.0, 0.9), 5, 64,
                             "gulrajani2017improved, algorithm 1: α 1e-4, β = (0, 0.9), "
                             "n_critic 5, m 64, λ 10"),
    "spectral_norm": PaperSettings(1e-4, (0.5, 0.9), 5, 64,
                                   "miyato2018spectral, table 1 setting A: α 1e-4, "
                                   "β = (0.5, 0.9), n_dis 5, batch 64"),
}
SEARCH_ORDER = ("pacgan", "wgan_gp", "minibatch_std", "spectral_norm", "non_saturating",
                "label_smoothing", "vanilla")  # the variants with published rows first


@dataclass(frozen=True)
class Candidate:
    """One configuration of the search: its ``name``, the variant and the settings."""

    name: str
    config: GanConfig
    settings: ToyGanSettings


def first_candidates(variant: str, dataset: str) -> tuple[Candidate, ...]:
    """Configurations 1–4 of the search for ``variant`` on ``dataset`` (see the module)."""
    config = config_by_name(variant)
    if config.pack_for(dataset) > 1:  # packing as its paper counts the batch: packed inputs
        config = replace(config, batch_counts_packs=True)
    shared = DEFAULT_SETTINGS[dataset]
    paper = PAPER_SETTINGS[variant]
    more_k = 5 if config.loss == "wgan-gp" else config.k_critic + 1
    return (
        Candidate("shared", config, shared),
        Candidate("lr 3e-4", config, replace(shared, lr=3e-4)),
        Candidate("more critic steps", replace(config, k_critic=more_k), shared),
        Candidate("paper", replace(config, k_critic=paper.k_critic, betas=paper.betas),
                  replace(shared, lr=paper.lr, batch=paper.batch, lr_decay=False)),
    )


def longer(candidate: Candidate) -> Candidate:
    """Configuration 5: ``candidate`` with twice the steps."""
    return Candidate("longer", candidate.config,
                     replace(candidate.settings, steps=2 * candidate.settings.steps))


def score(result: dict[str, Any], dataset: str) -> float:
    """What the search maximises: share of modes captured plus high-quality share."""
    return result["modes_captured"] / MIXTURES[dataset]().n_modes + result["high_quality_share"]


def record_every(candidate: Candidate) -> int:
    """Steps between the trajectory points of ``candidate``'s run."""
    return max(1, candidate.settings.steps // RECORD_FRACTION)


def long_candidate(dataset: str, variant: str, name: str, steps: int) -> Candidate:
    """Configuration ``name`` (one of :func:`first_candidates`) of ``variant`` on
    ``dataset``, trained for ``steps`` steps: a long run."""
    check_positive_int(steps, "steps")
    by_name = {c.name: c for c in first_candidates(variant, dataset)}
    if name not in by_name:
        raise ValueError(f"configuration {name!r} is not one of the search's first four: "
                         f"{', '.join(map(repr, by_name))}.")
    c = by_name[name]
    return Candidate(f"{name}, {steps:,} steps", c.config, replace(c.settings, steps=steps))


def long_record_every(candidate: Candidate) -> int:
    """Steps between the trajectory points of a long run."""
    return max(1, candidate.settings.steps // LONG_POINTS)


def run_long(runs: Sequence[tuple[str, str, str, int]], runs_file: Path | None,
             device: torch.device, log: Any = print) -> list[dict[str, Any]]:
    """Train each long run ``(dataset, variant, configuration, steps)`` on
    :data:`SEARCH_SEED` (reusing finished ones from the runs file and the archive); return
    one row per run with its result and trajectory."""
    archive = read_finished_runs(ARCHIVE)
    rows = []
    for dataset, variant, name, steps in runs:
        candidate = long_candidate(dataset, variant, name, steps)
        done, _ = train_tasks([_task(dataset, candidate)], device, log, runs_file=runs_file,
                              resume=True, record_every=long_record_every(candidate),
                              also_from=archive)
        rows.append({"dataset": dataset, "variant": variant, "name": candidate.name,
                     "result": next(iter(done.values()))})
    return rows


def _task(dataset: str, candidate: Candidate) -> tuple[str, GanConfig, ToyGanSettings, int]:
    return dataset, candidate.config, candidate.settings, SEARCH_SEED


def run_search(datasets: Sequence[str], variants: Sequence[str], runs_file: Path | None,
               resume: bool, device: torch.device, log: Any = print) -> list[dict[str, Any]]:
    """Train the search (configurations 1–4, then 5) of each variant on each data set, one
    variant at a time; return one row per run: data set, variant, configuration, its
    settings and result, and ``chosen`` (the best of the five, the one the benchmark
    reports)."""
    archive = read_finished_runs(ARCHIVE)
    if runs_file is not None and not resume:
        kept = rotate_runs_log(Path(runs_file))  # never emptied: kept under another name
        if kept is not None and log is not None:
            log(f"  kept the previous runs file as {kept}")
    rows: list[dict[str, Any]] = []
    for dataset in datasets:
        for variant in variants:
            found: list[tuple[Candidate, dict[str, Any]]] = []
            for stage in ("first", "longer"):
                if stage == "first":
                    batch = list(first_candidates(variant, dataset))
                else:
                    best = max(found, key=lambda cr: score(cr[1], dataset))[0]
                    batch = [longer(best)]
                for candidate in batch:
                    done, _ = train_tasks([_task(dataset, candidate)], device, log,
                                          runs_file=runs_file, resume=True,
                                          record_every=record_every(candidate),
                                          also_from=archive)
                    found.append((candidate, next(iter(done.values()))))
            chosen = max(found, key=lambda cr: score(cr[1], dataset))[0]
            for candidate, result in found:
                rows.append({"dataset": dataset, "variant": variant, "name": candidate.name,
                             "key": run_key(*_task(dataset, candidate),
                                            record_every=record_every(candidate)),
                             "result": result, "score": score(result, dataset),
                             "chosen": candidate is chosen})
    return rows


def candidates_of(variant: str, dataset: str, runs: Mapping[str, dict[str, Any]]
                  ) -> list[tuple[Candidate, dict[str, Any]]] | None:
    """The search of ``variant`` on ``dataset`` as recorded in ``runs`` (by key): its five
    configurations with their results, or ``None`` while any is missing."""
    found = []
    for candidate in first_candidates(variant, dataset):
        key = run_key(*_task(dataset, candidate), record_every=record_every(candidate))
        if key not in runs:
            return None
        found.append((candidate, runs[key]))
    best = longer(max(found, key=lambda cr: score(cr[1], dataset))[0])
    key = run_key(*_task(dataset, best), record_every=record_every(best))
    if key not in runs:
        return None
    return [*found, (best, runs[key])]


def chosen_candidate(variant: str, dataset: str, runs: Mapping[str, dict[str, Any]]
                     ) -> Candidate | None:
    """The configuration the search chose for ``variant`` on ``dataset`` (the best
    :func:`score`), or ``None`` while its search is unfinished."""
    found = candidates_of(variant, dataset, runs)
    if found is None:
        return None
    return max(found, key=lambda cr: score(cr[1], dataset))[0]


def shipped_runs() -> dict[str, dict[str, Any]]:
    """The runs of the benchmark that ships with the package (``bench_gan.json``), by key:
    a final run whose configuration the benchmark already trained is not trained again."""
    from genmodels.results import load_results

    section = load_results("gan")["gan"]
    configs = {c["name"]: c for c in section["configs"]}
    runs = {}
    for row in section["results"]:
        config = GanConfig(**{k: tuple(map(tuple, v)) if k == "pack_by_dataset" else v
                              for k, v in configs[row["config"]].items()})
        raw = section["settings"][row["dataset"]]
        settings = ToyGanSettings(**{k: tuple(v) if k == "betas" else v for k, v in raw.items()})
        for result in row["per_seed"]:
            runs[run_key(row["dataset"], config, settings, result["seed"])] = result
    return runs


def run_final(datasets: Sequence[str], variants: Sequence[str], seeds: Sequence[int],
              runs_file: Path | None, device: torch.device, log: Any = print
              ) -> list[dict[str, Any]]:
    """Train each variant's chosen configuration on ``seeds`` (the reported seeds), for
    every data set whose search is finished; return one row per (data set, variant) with
    the configuration's name and the per-seed results. Runs already in the runs file, the
    archive or the shipped benchmark are reused (resume)."""
    known = {**shipped_runs(), **read_finished_runs(ARCHIVE)}
    searched = {**known, **(read_finished_runs(runs_file) if runs_file is not None else {})}
    rows = []
    for dataset in datasets:
        for variant in variants:
            chosen = chosen_candidate(variant, dataset, searched)
            if chosen is None:
                if log is not None:
                    log(f"  {dataset} {variant}: its search is not finished; skipped")
                continue
            tasks = [(dataset, chosen.config, chosen.settings, seed) for seed in seeds]
            done, _ = train_tasks(tasks, device, log, runs_file=runs_file, resume=True,
                                  also_from=known)
            rows.append({"dataset": dataset, "variant": variant, "name": chosen.name,
                         "per_seed": [done[run_key(*t)] for t in tasks]})
    return rows


def final_rows(runs: Mapping[str, dict[str, Any]], datasets: Sequence[str], variants: Sequence[str],
               seeds: Sequence[int] = FINAL_SEEDS) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """The final table as recorded in ``runs`` (by key): for every finished search, its
    chosen configuration on ``seeds``, as a row of the benchmark's table
    (:func:`genmodels.bench.gan_runs.result_row`) with the configuration's ``name`` and
    settings; and the (data set, variant) pairs whose final runs are not all there yet."""
    rows, missing = [], []
    for dataset in datasets:
        for variant in variants:
            chosen = chosen_candidate(variant, dataset, runs)
            if chosen is None:
                continue
            keys = [run_key(dataset, chosen.config, chosen.settings, seed) for seed in seeds]
            if not all(k in runs for k in keys):
                missing.append([dataset, variant, f"final runs (seeds {seeds[0]}–{seeds[-1]})"])
                continue
            row = result_row(dataset, chosen.config, [runs[k] for k in keys])
            st = chosen.settings
            row.update({"configuration": chosen.name, "lr": st.lr, "lr_decay": st.lr_decay,
                        "betas": list(chosen.config.adam_betas(st)), "k_critic": chosen.config.k_critic,
                        "samples_per_step": chosen.config.real_batch(dataset, st.batch),
                        "steps": st.steps})
            rows.append(row)
    return rows, missing


def summary(runs: Mapping[str, dict[str, Any]], datasets: Sequence[str] = ("ring", "grid"),
            variants: Sequence[str] = SEARCH_ORDER) -> dict[str, Any]:
    """The search as recorded in ``runs`` (by key), for the results appendix and chapter 10:
    one row per configuration of every finished search (its settings, result, score, whether
    chosen); ``results``, the chosen configurations on the reported seeds beside
    ``published`` (:func:`final_rows`, :data:`genmodels.experiments.toy_gan.PUBLISHED`), in
    the benchmark's format; the long runs; what is not finished yet; the papers' settings
    with their sources, and the search's wall time (the sum of its runs')."""
    rows, unfinished, wall = [], [], 0.0
    for dataset in datasets:
        for variant in variants:
            found = candidates_of(variant, dataset, runs)
            if found is None:
                unfinished.append([dataset, variant])
                continue
            chosen = max(found, key=lambda cr: score(cr[1], dataset))[0]
            for candidate, result in found:
                c, st = candidate.config, candidate.settings
                wall += result["wall_time"]
                rows.append({
                    "dataset": dataset, "variant": variant, "name": candidate.name,
                    "lr": st.lr, "lr_decay": st.lr_decay, "betas": list(c.adam_betas(st)),
                    "k_critic": c.k_critic, "batch": st.batch,
                    "samples_per_step": c.real_batch(dataset, st.batch), "steps": st.steps,
                    "modes_captured": result["modes_captured"], "n_modes": MIXTURES[dataset]().n_modes,
                    "high_quality_share": result["high_quality_share"],
                    "trajectory": result.get("trajectory", {}), "wall_time": result["wall_time"],
                    "score": score(result, dataset), "chosen": candidate is chosen,
                    "from_commit": result.get("from_commit")})
    long_rows = []
    for dataset, variant, name, steps in LONG_RUNS:
        candidate = long_candidate(dataset, variant, name, steps)
        key = run_key(*_task(dataset, candidate), record_every=long_record_every(candidate))
        if key in runs:
            result = runs[key]
            long_rows.append({"dataset": dataset, "variant": variant, "name": candidate.name,
                              "steps": steps, "modes_captured": result["modes_captured"],
                              "n_modes": MIXTURES[dataset]().n_modes,
                              "high_quality_share": result["high_quality_share"],
                              "trajectory": result.get("trajectory", {}),
                              "wall_time": result["wall_time"]})
            wall += result["wall_time"]
        else:
            unfinished.append([dataset, variant, candidate.name])
    finals, missing = final_rows(runs, datasets, variants)
    unfinished += missing
    return {"chapter": "ch10_gan_remedies", "seed": SEARCH_SEED,
            "seeds": sorted({SEARCH_SEED, *FINAL_SEEDS}), "final_seeds": list(FINAL_SEEDS),
            "rule": "the largest modes captured / modes + high-quality share",
            "rows": rows, "results": finals, "published": [dict(p) for p in PUBLISHED],
            "long_runs": long_rows, "unfinished": unfinished,
            "paper_settings": {v: p.source for v, p in PAPER_SETTINGS.items()},
            "wall_time": wall}


def archive_runs(runs_file: Path = RUNS_FILE, archive: Path = ARCHIVE) -> int:
    """Merge the runs of ``runs_file`` into ``archive`` (written atomically; a run already
    archived is kept as it is). Returns how many runs were added."""
    kept = read_finished_runs(archive)
    new = {k: r for k, r in read_finished_runs(runs_file).items() if k not in kept}
    if new:
        lines = [json.dumps({"key": k, "result": r}, allow_nan=False) + "\n"
                 for k, r in {**kept, **new}.items()]
        archive.parent.mkdir(parents=True, exist_ok=True)
        # Tracked by git on purpose; replacing it loses nothing: every archived run is kept
        # as it was, the new ones are appended.
        write_text_atomically(archive, "".join(lines), what="the search's archive",
                              allow_tracked=True)
    return len(new)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m genmodels.bench.gan_search {run,final,long,archive,publish} ...``."""
    parser = argparse.ArgumentParser(prog="python -m genmodels.bench.gan_search",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("run", "final", "long", "archive", "publish"))
    parser.add_argument("--datasets", default="grid,ring")
    parser.add_argument("--variants", default=",".join(SEARCH_ORDER))
    parser.add_argument("--runs-file", type=Path, default=RUNS_FILE)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "publish":
        from genmodels import results
        from genmodels.bench.provenance import machine_info
        from genmodels.results import tables

        runs = {**shipped_runs(), **read_finished_runs(ARCHIVE), **read_finished_runs(args.runs_file)}
        import datetime as _dt

        created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        doc = {"schema": results.SCHEMA_VERSION, "created": created,
               "command": "python -m genmodels.bench.gan_search publish",
               "machine": machine_info(torch.device("cpu")), "quick": False,
               "section": "gan_search", "gan_search": summary(runs)}
        doc["seeds"] = doc["gan_search"]["seeds"]
        path = results.result_path("gan_search")
        # The package's result, replaced on this explicit request (as `bench --publish` does).
        write_text_atomically(path, json.dumps(doc, indent=1, allow_nan=False) + "\n",
                              what="the search's result", allow_tracked=True)
        print(f"wrote {path}: {len(doc['gan_search']['rows'])} runs, "
              f"{len(doc['gan_search']['unfinished'])} searches unfinished")
        final = tables.gan_search_final_section(doc["gan_search"])  # the chosen configurations, seeds 0-4
        print(tables.format_table_text(tables.gan_tables(final)[0]))
        return 0
    if args.command == "archive":
        added = archive_runs(args.runs_file)
        print(f"{added} run(s) added to {ARCHIVE}")
        return 0
    datasets = [d for d in args.datasets.split(",") if d]
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        config_by_name(v)
    unknown = [d for d in datasets if d not in MIXTURES]
    if unknown:
        parser.error(f"--datasets: unknown {unknown[0]!r}; expected some of {', '.join(MIXTURES)}")
    if args.command == "long":
        wanted = [r for r in LONG_RUNS if r[0] in datasets and r[1] in variants]
        for row in run_long(wanted, args.runs_file, pick_device()):
            r = row["result"]
            print(f"{row['dataset']:4s} {row['variant']:16s} {row['name']:24s} "
                  f"{r['modes_captured']:3d} modes {100 * r['high_quality_share']:5.1f}%")
        return 0
    if args.command == "final":
        finals = run_final(datasets, variants, FINAL_SEEDS, args.runs_file, pick_device())
        for row in finals:
            modes = [r["modes_captured"] for r in row["per_seed"]]
            hq = [100 * r["high_quality_share"] for r in row["per_seed"]]
            print(f"{row['dataset']:4s} {row['variant']:16s} {row['name']:18s} "
                  f"{sum(modes) / len(modes):5.1f} modes {sum(hq) / len(hq):5.1f}%")
        return 0
    rows = run_search(datasets, variants, args.runs_file, args.resume, pick_device())
    for row in rows:
        r = row["result"]
        print(f"{row['dataset']:4s} {row['variant']:16s} {row['name']:18s} "
              f"{r['modes_captured']:3d} modes {100 * r['high_quality_share']:5.1f}% "
              f"{'← chosen' if row['chosen'] else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["ARCHIVE", "FINAL_SEEDS", "LONG_RUNS", "PAPER_SETTINGS", "SEARCH_SEED", "Candidate",
           "archive_runs", "candidates_of", "chosen_candidate", "final_rows", "first_candidates",
           "long_candidate", "long_record_every", "longer", "run_final", "run_long",
           "run_search", "score", "shipped_runs", "summary"]
