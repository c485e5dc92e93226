"""The course's benchmark: ``python -m genmodels.bench``.

Two sections, each optional (``--only gan`` / ``--only vae``):

* **gan** — mode collapse on the 2-D toy mixtures, with the protocol of VEEGAN
  (Srivastava et al., 2017) and PacGAN (Lin et al., 2018): the ring of 8 Gaussians
  (radius 1, std 0.01) and the grid of 25 ({−4, −2, 0, 2, 4}², std 0.05); 2,500 samples
  per trained generator; a sample is *high quality* within 3 std of its nearest centre; a
  mode is *captured* when it is the nearest centre of at least one high-quality sample
  (:func:`genmodels.measure.sample_quality.mode_metrics`). The vanilla GAN (the minimax game with the
  saturating generator loss) and each remedy of chapter 10 are trained over several seeds;
  the table reports mean ± standard deviation beside the published numbers.
* **vae** — the seconds per epoch and the test ELBO (nats per image) of an MLP VAE on
  Fashion-MNIST (:mod:`genmodels.vae`, :mod:`genmodels.core.data`, :mod:`genmodels.core.train`).

The results are printed as a table and written to a JSON file (default
``genmodels/results/bench_gan.json``) with the machine they ran on; the book's results appendix
and chapter 10 read that file. Book: chapter 10 (section "Five seeds, beside published numbers").
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from genmodels.bench.gan_runs import run_gan_bench
from genmodels.bench.provenance import machine_info

# Chapter 6's VAE and the other chapter sections (Gibbs sampling and RBMs of chapter 3, the
# image GANs of chapter 8, the comparison of chapter 11) live in genmodels.bench.sections.
from genmodels.bench.sections import SECTIONS as CHAPTER_SECTIONS
from genmodels.bench.sections import run_vae_bench, seeds_of
from genmodels.core.device import describe_device, pick_device
from genmodels.experiments.toy_gan import (
    DEFAULT_SETTINGS,
    GAN_CONFIGS,
    QUICK_SETTINGS,
    config_by_name,
)
from genmodels.results import RESULTS_DIR
from genmodels.results.tables import format_gan_table, format_section_text, format_vae_table

SCHEMA_VERSION = 1
DEFAULT_OUT = RESULTS_DIR / "bench_gan.json"
DEFAULT_VAE_OUT = RESULTS_DIR / "bench_vae.json"
DEFAULT_RUNS_FILE = Path("_build/bench/gan_runs.jsonl")

# ---------------------------------------------------------------------------
# What is trained
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Training one toy GAN
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# The GAN section: several seeds per (dataset, variant)
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# The machine, the command line
# ---------------------------------------------------------------------------


SECTION_NAMES = ("gan", *CHAPTER_SECTIONS)
DEFAULT_DATA_DIR = RESULTS_DIR


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
    return [n for n in SECTION_NAMES if n in names]


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m genmodels.bench",
        description="Every headline number of the book: GAN mode metrics on the ring and grid "
        "(chapter 10), Gibbs mixing and RBM likelihoods (chapter 3), the VAE (chapter 6), the "
        "image GANs (chapter 8) and the comparison of the families (chapter 11). Each section "
        "writes bench_<section>.json in genmodels/results/, which the results appendix renders.",
    )
    parser.add_argument("--only", type=_sections, default=list(SECTION_NAMES),
                        help="comma-separated sections to run: " + ", ".join(SECTION_NAMES)
                        + "; 'chapters' = all but gan (default: all).")
    parser.add_argument("--seeds", type=int, default=5,
                        help="GAN section: number of seeds 0..N-1 (default 5).")
    parser.add_argument("--seed", type=int, default=0,
                        help="chapter sections: the chapters' seed (default 0, as the book).")
    parser.add_argument("--datasets", default="ring,grid", help="comma-separated: ring,grid.")
    parser.add_argument("--configs", default=",".join(c.name for c in GAN_CONFIGS),
                        help="comma-separated GAN variants (default: all).")
    parser.add_argument("--steps", type=int, default=None, help="training steps per GAN.")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {QUICK_SETTINGS.steps} steps and 1 seed for the GANs, "
                        "tiny budgets for the chapter sections (numbers that do not reproduce "
                        "the book; the appendix flags them).")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes for the GAN runs (default 1; use the cores).")
    parser.add_argument("--vae-epochs", type=int, default=None,
                        help="VAE epochs (default: chapter 6's budget, 4 on a CPU, 30 on a GPU).")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best).")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default 1, as the book's build executes the "
                        "chapters; chapter 11 always uses 1 on a CPU).")
    parser.add_argument("--runs-file", type=Path, default=DEFAULT_RUNS_FILE,
                        help="GAN section: each finished run is appended here at once "
                        f"(default {DEFAULT_RUNS_FILE}); '-': none.")
    parser.add_argument("--resume", action="store_true",
                        help="GAN section: reuse the matching runs of --runs-file instead of "
                        "retraining them (to continue a stopped benchmark).")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"JSON of the GAN section (default {DEFAULT_OUT}); '-': none.")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help=f"where the chapter sections write bench_<section>.json "
                        f"(default {DEFAULT_DATA_DIR}); '-': none.")
    parser.add_argument("--vae-out", type=Path, default=None,
                        help="JSON of the VAE section (default DATA_DIR/bench_vae.json); '-': none.")
    return parser.parse_args(argv)


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
    seeds = list(section["seeds"]) if name == "gan" else seeds_of(section)
    load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    return {**header, "section": name, "seeds": seeds, "load_average_1min_at_end": load,
            name: section}


def _out_path(name: str, args: argparse.Namespace) -> Path:
    if name == "gan":
        return args.out
    if name == "vae" and args.vae_out is not None:
        return args.vae_out
    if str(args.data_dir) == "-":
        return Path("-")
    return args.data_dir / f"bench_{name}.json"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print the tables; write one JSON file per section.

    Returns ``{section: doc}`` for the sections that ran, each document being
    ``{"schema", "created", "command", "machine", "quick", "section", "seeds",
    "load_average_1min_at_end", section: {...}}``.
    """
    args = _parse_args(argv)
    if args.seeds < 1:
        raise SystemExit("--seeds must be at least 1.")
    device = pick_device(args.device)
    docs: dict[str, Any] = {}
    for name in args.only:
        header = _header(argv, device, args.quick)
        if name == "gan":
            # The 2-D networks are tiny: one thread avoids threading overhead (and contention
            # on a busy machine); pass --threads to change it.
            torch.set_num_threads(args.threads or 1)
            header["machine"]["torch_threads_gan"] = torch.get_num_threads()
            settings = {d: replace(s, steps=QUICK_SETTINGS.steps) if args.quick else s
                        for d, s in DEFAULT_SETTINGS.items()}
            if args.steps is not None:
                settings = {d: replace(s, steps=args.steps) for d, s in settings.items()}
            seeds = range(1 if args.quick else args.seeds)
            datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
            configs = [config_by_name(c.strip()) for c in args.configs.split(",") if c.strip()]
            print(f"GAN section on {describe_device(device)}: {len(datasets)} data sets × "
                  f"{len(configs)} variants × {len(seeds)} seeds, {args.jobs} job(s)")
            runs_file = None if str(args.runs_file) == "-" else args.runs_file
            section = run_gan_bench(seeds, datasets, configs, settings, device, jobs=args.jobs,
                                    runs_file=runs_file, resume=args.resume)
            print(format_gan_table(section))
            print(f"GAN section: {section['wall_time']:.0f} s")
        else:
            torch.set_num_threads(args.threads or 1)
            print(f"{name} section (chapter {CHAPTER_SECTIONS[name].chapter[2:4]}) on "
                  f"{describe_device(device)}")
            if name == "vae":
                section = run_vae_bench(epochs=args.vae_epochs, seed=args.seed, device=device,
                                        quick=args.quick)
                print(format_vae_table(section))
            else:
                section = CHAPTER_SECTIONS[name].run(quick=args.quick, seed=args.seed,
                                                     device=device)
                print(format_section_text(name, {name: section}))
            print(f"{name} section: {section['wall_time']:.0f} s")
        docs[name] = _finish(header, name, section)
        _write(docs[name], _out_path(name, args))
    return docs


def _write(doc: dict[str, Any], path: Path) -> None:
    if str(path) == "-":
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
