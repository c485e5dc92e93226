"""The benchmark's command line: ``python -m genmodels.bench [--only SECTIONS] [--quick] ...``.

It runs the sections of :data:`genmodels.bench.sections.SECTIONS` (all, or those named by
``--only``) one after the other, each with the same call::

    section = SECTIONS[name].run(settings, quick=..., seed=..., device=..., log=print)

where ``settings`` is built from the section's own options (:data:`SETTINGS_FROM_ARGS`:
the GAN section's seeds, data sets, variants, steps, jobs, runs file and resume, the VAE
section's ``--vae-epochs``; ``None`` for the others). Each section's table is printed by
:func:`genmodels.results.tables.format_section_text` and its JSON document written to
``bench_<section>.json``:

* the package's results, ``genmodels/results/`` (:data:`genmodels.results.RESULTS_DIR`),
  where the chapters and the results appendix read them
  (:func:`genmodels.results.load_results`), are replaced only by a full run that asks for
  it with ``--publish`` (``make bench`` does): the book's seed and every section's full
  budget, no ``--quick``, ``--steps``, ``--seeds``, ``--datasets``, ``--configs``,
  ``--vae-epochs``, ``--out`` or ``--data-dir``;
* any other run writes into :data:`BUILD_DIR` (``_build/bench/`` of the repository that
  holds the package, or the user cache ``~/.cache/genmodels/bench/`` for an installed
  package), a smoke run (``--quick``) into :data:`QUICK_DIR` (``BUILD_DIR/quick/``):
  never into the package, and never relative to the current directory.

``--data-dir`` chooses another folder ('-': no file), ``--out`` the file of a single section.
Every file is written atomically (a temporary file, then a rename; a symlink is replaced,
not written through), and a file tracked by git is never overwritten unless it is the
package's result that ``--publish`` replaces. The GAN section appends each finished run to
a runs file (``BUILD_DIR/gan_runs.jsonl``, or ``QUICK_DIR/gan_runs.jsonl`` for a smoke run)
that ``--resume`` continues from; a run without ``--resume`` keeps the previous file under
another name (:func:`genmodels.bench.gan_runs.rotate_runs_log`) and says so.
Book: the results appendix (the shared settings); chapter 10 shows the tuned variants (genmodels.bench.gan_search).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from genmodels import results
from genmodels.bench.gan_runs import GanBenchSettings
from genmodels.bench.provenance import machine_info
from genmodels.bench.sections import SECTIONS, VaeBenchSettings, seeds_of
from genmodels.core.data import default_cache_dir
from genmodels.core.device import describe_device, pick_device
from genmodels.core.files import SourceFileError, refuse_tracked, write_text_atomically
from genmodels.experiments.toy_gan import GAN_CONFIGS, QUICK_SETTINGS
from genmodels.results.tables import format_section_text

SCHEMA_VERSION = results.SCHEMA_VERSION


def default_build_dir() -> Path:
    """Where the benchmark writes what is not the package's results: ``_build/bench/`` of the
    repository when the package runs from a checkout (``<root>/lib/genmodels``), else the
    user cache ``($XDG_CACHE_HOME or ~/.cache)/genmodels/bench``. Never the current folder."""
    package = Path(__file__).resolve().parents[1]
    root = package.parents[1]
    if package.parent.name == "lib" and (root / "pyproject.toml").is_file():
        return root / "_build" / "bench"
    return default_cache_dir() / "bench"


BUILD_DIR = default_build_dir()
QUICK_DIR = BUILD_DIR / "quick"
DEFAULT_RUNS_FILE = BUILD_DIR / "gan_runs.jsonl"
SECTION_NAMES = tuple(SECTIONS)
# "--only chapters": the sections that repeat one chapter's experiment with its seed.
CHAPTER_SECTIONS = tuple(name for name in SECTIONS if name != "gan")


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------


def _sections(value: str) -> list[str]:
    """``--only``: a comma-separated list of sections, or "chapters" or "all"."""
    names: list[str] = []
    for name in (v.strip() for v in value.split(",") if v.strip()):
        if name == "all":
            names += SECTION_NAMES
        elif name == "chapters":
            names += CHAPTER_SECTIONS
        elif name in SECTION_NAMES:
            names.append(name)
        else:
            raise argparse.ArgumentTypeError(
                f"unknown section {name!r}; expected a comma-separated list of "
                f"{', '.join(SECTION_NAMES)}, or 'chapters' (all but gan) or 'all'.")
    if not names:
        raise argparse.ArgumentTypeError(
            f"no section named in {value!r}; expected a comma-separated list of "
            f"{', '.join(SECTION_NAMES)}, or 'chapters' (all but gan) or 'all'.")
    return [n for n in SECTION_NAMES if n in names]


def _int_at_least(minimum: int, meaning: str) -> Callable[[str], int]:
    """An argparse type: an int >= ``minimum``, or a usage error saying what it means."""
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < minimum:
            kind = {1: "a positive int", 0: "a non-negative int"}.get(minimum, f"an int >= {minimum}")
            raise argparse.ArgumentTypeError(f"expected {kind} ({meaning}), got {value!r}")
        return number
    parse.__name__ = "int"
    return parse


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m genmodels.bench",
        description="Every headline number of the book: GAN mode metrics on the ring and grid "
        "(chapter 10), Gibbs mixing and RBM likelihoods (chapter 3), the VAE (chapter 6), the "
        "image GANs (chapter 8) and the comparison of the families (chapter 11). Each section "
        "writes bench_<section>.json: into the package (genmodels/results/, which the chapters "
        "and the results appendix read) only for a full run with --publish; otherwise into "
        f"{BUILD_DIR}/ ({QUICK_DIR}/ for a --quick run).",
    )
    parser.add_argument("--only", type=_sections, default=list(SECTION_NAMES),
                        help="comma-separated sections to run: " + ", ".join(SECTION_NAMES)
                        + "; 'chapters' = all but gan (default: all).")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {QUICK_SETTINGS.steps} steps and 1 seed for the GANs, "
                        "tiny budgets for the other sections (numbers that do not reproduce "
                        f"the book; the appendix flags them); writes into {QUICK_DIR}/, never "
                        "into the package.")
    parser.add_argument("--publish", action="store_true",
                        help="replace the package's results (genmodels/results/bench_<section>"
                        ".json, what the book shows) with this run's; only for a full run: "
                        "the book's seed and budgets, without --quick, --steps, --seeds, "
                        "--datasets, --configs, --vae-epochs, --out or --data-dir. Without "
                        f"it, results go to {BUILD_DIR}/.")
    parser.add_argument("--seed", type=int, default=0,
                        help="the seed (default 0, as the book): the chapters' seed, and the "
                        "GAN section's first seed.")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best).")
    parser.add_argument("--threads", type=_int_at_least(1, "torch CPU threads"), default=None,
                        help="torch CPU threads (default 1, as the book's build executes the "
                        "chapters; chapter 11 always uses 1 on a CPU).")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where each section writes bench_<section>.json (default: "
                        f"{BUILD_DIR}; {QUICK_DIR} with --quick; the package's results folder "
                        f"{results.RESULTS_DIR} with --publish); '-': no file.")
    parser.add_argument("--out", type=Path, default=None,
                        help="the JSON file of the one section that --only names (instead of "
                        "DATA_DIR/bench_<section>.json); '-': none. Never a file tracked by "
                        "git.")
    gan = parser.add_argument_group("GAN section (chapter 10)")
    gan.add_argument("--seeds", type=_int_at_least(1, "seeds per GAN"), default=5,
                     help="number of seeds SEED..SEED+N-1 (default 5; 1 with --quick).")
    gan.add_argument("--datasets", default="ring,grid", help="comma-separated: ring,grid.")
    gan.add_argument("--configs", default=",".join(c.name for c in GAN_CONFIGS),
                     help="comma-separated GAN variants (default: all).")
    gan.add_argument("--steps", type=_int_at_least(1, "training steps per GAN"), default=None,
                     help="training steps per GAN (default: each data set's tuned budget).")
    gan.add_argument("--jobs", type=_int_at_least(1, "worker processes"), default=1,
                     help="worker processes for the GAN runs (default 1; use the cores).")
    gan.add_argument("--runs-file", type=Path, default=None,
                     help="each finished run is appended here at once (default "
                     f"{DEFAULT_RUNS_FILE}; {QUICK_DIR / 'gan_runs.jsonl'} with --quick); "
                     "'-': none.")
    gan.add_argument("--resume", action="store_true",
                     help="reuse the matching runs of --runs-file instead of retraining them "
                     "(to continue a stopped benchmark).")
    vae = parser.add_argument_group("VAE section (chapter 6)")
    vae.add_argument("--vae-epochs", type=_int_at_least(1, "VAE epochs"), default=None,
                     help="epochs (default: chapter 6's budget, 4 on a CPU, 30 on a GPU).")
    args = parser.parse_args(argv)
    if args.publish:
        not_full = [flag for flag, given in (
            ("--quick", args.quick), ("--steps", args.steps is not None),
            ("--seeds", args.seeds != 5), ("--seed", args.seed != 0),
            ("--datasets", _names(args.datasets) != ("ring", "grid")),
            ("--configs", _names(args.configs) != tuple(c.name for c in GAN_CONFIGS)),
            ("--vae-epochs", args.vae_epochs is not None), ("--out", args.out is not None),
            ("--data-dir", args.data_dir is not None)) if given]
        if not_full:
            parser.error(f"--publish replaces the book's results, so it needs a full run; "
                         f"drop {', '.join(not_full)} (or drop --publish: the results then go "
                         f"to {BUILD_DIR}/).")
    if args.out is not None and len(args.only) != 1:
        parser.error(f"--out names the file of one section, but --only runs {len(args.only)} "
                     f"({', '.join(args.only)}); name one section or use --data-dir.")
    return args


def _names(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _gan_settings(args: argparse.Namespace) -> GanBenchSettings:
    if args.runs_file is None:
        runs_file: Path | None = QUICK_DIR / "gan_runs.jsonl" if args.quick else DEFAULT_RUNS_FILE
    else:
        runs_file = None if str(args.runs_file) == "-" else args.runs_file
    try:
        if runs_file is not None:
            refuse_tracked(runs_file, "--runs-file")
        return GanBenchSettings(n_seeds=args.seeds, datasets=_names(args.datasets),
                                configs=_names(args.configs), steps=args.steps, jobs=args.jobs,
                                runs_file=runs_file, resume=args.resume)
    except (ValueError, SourceFileError) as error:
        raise SystemExit(f"python -m genmodels.bench: {error}") from error


def _vae_settings(args: argparse.Namespace) -> VaeBenchSettings:
    try:
        return VaeBenchSettings(epochs=args.vae_epochs)
    except ValueError as error:
        raise SystemExit(f"python -m genmodels.bench: --vae-epochs: {error}") from error


# The settings object of each section with options of its own (the others get None).
SETTINGS_FROM_ARGS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "gan": _gan_settings,
    "vae": _vae_settings,
}


def output_path(name: str, args: argparse.Namespace) -> Path | None:
    """Where section ``name``'s JSON goes: ``--out``, else ``DATA_DIR/bench_<name>.json`` with
    DATA_DIR ``--data-dir``, the package's results folder for ``--publish``,
    :data:`QUICK_DIR` for ``--quick``, else :data:`BUILD_DIR`; ``None`` for '-'."""
    if args.out is not None:
        return None if str(args.out) == "-" else args.out
    data_dir = args.data_dir
    if data_dir is None:
        data_dir = results.RESULTS_DIR if args.publish else QUICK_DIR if args.quick else BUILD_DIR
    return None if str(data_dir) == "-" else data_dir / f"bench_{name}.json"


# ---------------------------------------------------------------------------
# Running the sections
# ---------------------------------------------------------------------------


def _header(argv: Sequence[str] | None, device: torch.device, quick: bool) -> dict[str, Any]:
    """The fields every benchmark file starts with (the seeds are added per section)."""
    return {
        "schema": SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m genmodels.bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine_info(device),
        "quick": quick,
    }


def _finish(header: dict[str, Any], name: str, section: dict[str, Any]) -> dict[str, Any]:
    load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    return {**header, "section": name, "seeds": seeds_of(section),
            "load_average_1min_at_end": load, name: section}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print the tables; write one JSON file per section.

    Returns ``{section: doc}`` for the sections that ran, each document being
    ``{"schema", "created", "command", "machine", "quick", "section", "seeds",
    "load_average_1min_at_end", section: {...}}``.
    """
    args = _parse_args(argv)
    settings = {name: SETTINGS_FROM_ARGS[name](args) for name in args.only
                if name in SETTINGS_FROM_ARGS}  # bad options stop the run before any training
    device = pick_device(args.device)
    if args.out is None and args.data_dir is None and not args.publish:
        kind = "Smoke run (--quick)" if args.quick else "Without --publish"
        print(f"{kind}: the results go to {QUICK_DIR if args.quick else BUILD_DIR}/, not into "
              f"the package ({results.RESULTS_DIR}); --data-dir chooses another folder.")
    for name in args.only:  # before any training: a path that cannot be written
        _check_writable(output_path(name, args), publish=args.publish)
    docs: dict[str, Any] = {}
    for name in args.only:
        # One thread by default, as the book's build runs the chapters (and the tiny 2-D GANs
        # run fastest on one); pass --threads to change it.
        torch.set_num_threads(args.threads or 1)
        header = _header(argv, device, args.quick)
        print(f"{name} section (chapter {SECTIONS[name].chapter[2:4]}) on "
              f"{describe_device(device)}")
        section = SECTIONS[name].run(settings.get(name), quick=args.quick, seed=args.seed,
                                     device=device, log=print)
        print(format_section_text(name, {name: section}))
        print(f"{name} section: {section['wall_time']:.0f} s")
        docs[name] = _finish(header, name, section)
        _write(docs[name], output_path(name, args), publish=args.publish)
    return docs


def _is_package_result(path: Path) -> bool:
    return path.resolve(strict=False).parent == results.RESULTS_DIR.resolve() \
        and path.name.startswith("bench_")


def _check_writable(path: Path | None, *, publish: bool) -> None:
    """Stop before any training if ``path`` is a source the run must not overwrite."""
    if path is None:
        return
    try:
        if _is_package_result(path) and not publish:
            raise SourceFileError(f"{path} is one of the package's shipped results; only a "
                                  "full run with --publish replaces it.")
        if not (publish and _is_package_result(path)):
            refuse_tracked(path, "--out/--data-dir")
    except SourceFileError as error:
        raise SystemExit(f"python -m genmodels.bench: {error}") from error


def _write(doc: dict[str, Any], path: Path | None, publish: bool = False) -> None:
    if path is None:
        return
    write_text_atomically(path, json.dumps(doc, indent=1, allow_nan=False) + "\n",
                          what="--out/--data-dir",
                          allow_tracked=publish and _is_package_result(path))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
