"""Tests of ``python -m genmodels.bench`` on tiny budgets: structure (not numbers), the one section
signature, where results are written, and resume keys equal to the old benchmark's."""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from genmodels import results
from genmodels.bench import cli, gan_runs, provenance, sections
from genmodels.experiments import toy_gan
from genmodels.results import tables

DATA = Path(__file__).resolve().parent / "data"


def test_cli_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "cli.json"
    docs = cli.main(["--only", "gan", "--quick", "--steps", "20", "--datasets", "ring",
                       "--configs", "vanilla,pacgan", "--out", str(out), "--device", "cpu",
                       "--runs-file", str(tmp_path / "runs.jsonl")])
    printed = capsys.readouterr().out
    assert "vanilla GAN (saturating loss)" in printed
    assert "published: PacGAN2" in printed
    assert "published: PacGAN2" in printed.split("training settings")[0]  # beside the runs
    assert "training settings of every variant" in printed
    assert f"wrote {out}" in printed

    doc = json.loads(out.read_text())  # strict JSON: no NaN/inf
    assert doc == json.loads(json.dumps(docs["gan"]))
    assert doc["schema"] == results.SCHEMA_VERSION
    for key in ("cpu", "cpu_count", "torch", "device", "python"):
        assert key in doc["machine"]
    assert doc["machine"]["torch"] == torch.__version__
    section = doc["gan"]
    assert section["seeds"] == [0] and doc["seeds"] == [0]
    assert section["chapter"] == "ch10_gan_remedies"
    assert section["device"].startswith("cpu") and section["torch_threads"] == 1
    assert section["settings"]["ring"]["steps"] == 20
    assert section["settings"]["ring"]["latent_dim"] == 2
    assert section["protocol"]["n_samples"] == 2500
    assert [r["config"] for r in section["results"]] == ["vanilla", "pacgan"]
    assert [r["pack"] for r in section["results"]] == [1, 2]
    for r in section["results"]:
        assert r["dataset"] == "ring" and r["n_modes"] == 8
        (seed_result,) = r["per_seed"]
        assert 0 <= seed_result["modes_captured"] <= 8
        assert 0.0 <= seed_result["high_quality_share"] <= 1.0
        assert seed_result["wall_time"] > 0
        assert r["mean"]["modes_captured"] == seed_result["modes_captured"]
        assert r["std"]["high_quality_share"] == 0.0  # one seed
    methods = {(p["dataset"], p["method"]) for p in section["published"]}
    assert methods == {("ring", "VEEGAN"), ("ring", "PacGAN2"), ("grid", "PacGAN4"),
                       ("ring", "WGAN-GP"), ("grid", "WGAN-GP")}
    assert results.load_results(out)["gan"]["results"][0]["config"] == "vanilla"


def test_summary_over_seeds_is_mean_and_sample_std():
    section = gan_runs.run_gan_bench(
        seeds=[0, 1], datasets=["grid"], configs=[toy_gan.config_by_name("non_saturating")],
        settings=toy_gan.ToyGanSettings(steps=5, n_eval=100), device=torch.device("cpu"), log=None,
    )
    (r,) = section["results"]
    hq = [s["high_quality_share"] for s in r["per_seed"]]
    assert r["n_modes"] == 25
    assert r["mean"]["high_quality_share"] == pytest.approx(sum(hq) / 2)
    assert r["std"]["high_quality_share"] == pytest.approx(abs(hq[0] - hq[1]) / math.sqrt(2))
    table = tables.format_table_text(tables.gan_tables(section)[0])
    (row,) = [line for line in table.splitlines() if line.startswith("grid")][:1]
    m, sd = r["mean"], r["std"]
    assert f"{m['modes_captured']:.1f} ± {sd['modes_captured']:.1f} / 25" in row
    assert f"{100 * m['high_quality_share']:.1f} ± {100 * sd['high_quality_share']:.1f}" in row
    assert "published: PacGAN4" in table


def test_runs_file_records_each_run_and_resume_reuses_only_matching_runs(tmp_path):
    runs = tmp_path / "runs.jsonl"
    runs.write_text("stale line from an older benchmark\n")
    settings = toy_gan.ToyGanSettings(steps=4, n_eval=50)
    config = toy_gan.config_by_name("non_saturating")
    kwargs = dict(datasets=["ring"], configs=[config], device=torch.device("cpu"), log=None,
                  runs_file=runs)
    first = gan_runs.run_gan_bench(seeds=[0, 1], settings=settings, **kwargs)
    assert first["reused_runs"] == 0  # without resume the file starts afresh
    lines = runs.read_text().splitlines()
    assert len(lines) == 2
    finished = gan_runs.read_finished_runs(runs)
    assert set(finished) == {gan_runs.run_key("ring", config, settings, s) for s in (0, 1)}

    # A benchmark stopped while writing leaves a cut-off last line: it is skipped.
    runs.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])
    second = gan_runs.run_gan_bench(seeds=[0, 1, 2], settings=settings, resume=True, **kwargs)
    assert second["reused_runs"] == 1  # seed 0 reused; seed 1 (cut off) and 2 trained
    by_seed = {r["seed"]: r for r in second["results"][0]["per_seed"]}
    git = provenance.git_commit()
    assert by_seed[0] == {**first["results"][0]["per_seed"][0],
                          "from_commit": None if git is None else git["commit"]}
    assert "from_commit" not in by_seed[2]  # trained now
    assert by_seed[1]["modes_captured"] == first["results"][0]["per_seed"][1]["modes_captured"]
    assert sorted(by_seed) == [0, 1, 2]

    # Other settings are other runs: nothing is reused.
    third = gan_runs.run_gan_bench(seeds=[0], settings=toy_gan.ToyGanSettings(steps=5, n_eval=50),
                                resume=True, **kwargs)
    assert third["reused_runs"] == 0

    runs.write_text("not json\n" + lines[0] + "\n")
    with pytest.raises(ValueError, match="line 1: not a run of the benchmark"):
        gan_runs.read_finished_runs(runs)


def test_trajectory_is_recorded_every_k_steps():
    run = toy_gan.train_toy_gan("ring", toy_gan.config_by_name("minibatch_std"),
                              toy_gan.ToyGanSettings(steps=12, n_eval=200), seed=0,
                              device=torch.device("cpu"), record_every=5)
    assert run.trajectory["step"] == [5.0, 10.0, 12.0]
    assert len(run.trajectory["high_quality_share"]) == 3
    assert [tuple(s.shape) for s in run.snapshots] == [(200, 2)] * 3
    assert run.samples.shape == (200, 2)
    assert run.history.n_steps == 12
    assert set(run.history.names) == {"d_loss", "g_loss", "d_real", "d_fake", "acc_real", "acc_fake"}


def test_same_seed_same_numbers():
    settings = toy_gan.ToyGanSettings(steps=10, n_eval=100)
    a = toy_gan.train_toy_gan("ring", toy_gan.GAN_CONFIGS[0], settings, seed=3, device=torch.device("cpu"))
    b = toy_gan.train_toy_gan("ring", toy_gan.GAN_CONFIGS[0], settings, seed=3, device=torch.device("cpu"))
    assert torch.equal(a.samples, b.samples)


def test_discriminator_width_is_its_own_setting():
    settings = toy_gan.ToyGanSettings(width=16, d_width=48, depth=2, latent_dim=3)
    G, D = toy_gan.build_toy_gan(toy_gan.config_by_name("pacgan"), settings, "grid")
    g_widths = [m.out_features for m in G.net if isinstance(m, torch.nn.Linear)]
    d_widths = [m.out_features for m in D.body if isinstance(m, torch.nn.Linear)]
    assert g_widths == [16, 16, 2]
    assert d_widths == [48, 48]
    assert D.pack == 4 and D.body[0].in_features == 2 * 4
    same = toy_gan.build_toy_gan(toy_gan.config_by_name("vanilla"), toy_gan.ToyGanSettings(width=16))[1]
    assert [m.out_features for m in same.body if isinstance(m, torch.nn.Linear)] == [16, 16, 16]


def test_bad_input_is_explained(tmp_path):
    with pytest.raises(ValueError, match="unknown GAN configuration 'nope'"):
        toy_gan.config_by_name("nope")
    with pytest.raises(ValueError, match="unknown dataset 'moons'"):
        toy_gan.train_toy_gan("moons", toy_gan.GAN_CONFIGS[0])
    with pytest.raises(ValueError, match="steps must be a positive int"):
        toy_gan.ToyGanSettings(steps=0)
    with pytest.raises(ValueError, match="d_width must be a positive int or None"):
        toy_gan.ToyGanSettings(d_width=0)
    with pytest.raises(FileNotFoundError, match="python -m genmodels.bench"):
        results.load_results(tmp_path / "missing.json")


def test_vae_section_structure():
    from genmodels.core import data
    from genmodels.experiments.vae_fashion import FashionVAESettings

    try:
        data.load_fashion_mnist("test", download=False)
    except data.DatasetError:
        pytest.skip("Fashion-MNIST is not available offline here")
    settings = sections.VaeBenchSettings(FashionVAESettings(batch_size=64, n_train_elbo=256,
                                                            n_iwae=64, n_fd=128),
                                         epochs=1, n_train=256, n_test=128)
    section = sections.run_vae_bench(settings, device=torch.device("cpu"), log=None)
    assert section["n_train"] == 256 and section["n_test"] == 128
    assert section["batch_size"] == 64 and section["epochs"] == 1
    assert section["seconds_per_epoch"] > 0
    # A Bernoulli ELBO is a log-likelihood bound: negative, and finite.
    assert math.isfinite(section["test_elbo"]) and section["test_elbo"] < 0
    text = tables.format_section_text("vae", {"vae": section})
    assert text.startswith("MLPVAE") and f"{section['test_elbo']:.2f}" in text


def test_git_commit_ignores_only_the_benchmarks_own_result_files(tmp_path):
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    (tmp_path / "lib" / "genmodels" / "results").mkdir(parents=True)
    results, code = tmp_path / "lib" / "genmodels" / "results" / "bench_gibbs.json", tmp_path / "model.py"
    results.write_text("{}")
    code.write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "start")
    clean = provenance.git_commit(tmp_path)
    assert clean is not None and len(clean["commit"]) == 40 and not clean["modified"]
    results.write_text('{"new": 1}')  # a section wrote its results: still the same code
    assert not provenance.git_commit(tmp_path)["modified"]
    code.write_text("x = 2\n")
    assert provenance.git_commit(tmp_path)["modified"]
    assert provenance.git_commit(tmp_path / "lib")["modified"]  # any folder of the repository


# ---------------------------------------------------------------------------- one signature


def test_every_section_has_the_one_signature():
    expected = inspect.signature(sections.SectionRun.__call__)
    expected = expected.replace(parameters=list(expected.parameters.values())[1:])  # no self
    assert list(sections.SECTIONS)[0] == "gan"  # registered with the others, run first
    for name, section in sections.SECTIONS.items():
        signature = inspect.signature(section.run)
        assert [(p.name, p.kind) for p in signature.parameters.values()] == \
            [(p.name, p.kind) for p in expected.parameters.values()], name
        assert [p.default for p in signature.parameters.values()] == \
            [p.default for p in expected.parameters.values()], name


def test_main_calls_every_section_alike_with_its_settings(tmp_path, monkeypatch, capsys):
    """Fake sections that return the shipped results: main passes each its own settings
    object (built from its options, None without any) and the same keywords."""
    calls = {}

    def fake(name):
        def run(settings=None, *, quick=False, seed=0, device=None, log=print):
            calls[name] = (settings, quick, seed, device)
            return results.load_results(name)[name]
        return run

    fakes = {n: s._replace(run=fake(n)) for n, s in sections.SECTIONS.items()}
    monkeypatch.setattr(cli, "SECTIONS", fakes)
    docs = cli.main(["--only", "gan,gibbs,vae", "--data-dir", str(tmp_path), "--device", "cpu",
                     "--seed", "3", "--seeds", "2", "--datasets", "grid", "--configs",
                     "vanilla", "--steps", "7", "--jobs", "2", "--runs-file", "-",
                     "--vae-epochs", "9"])
    assert list(docs) == list(calls) == ["gan", "gibbs", "vae"]
    cpu = torch.device("cpu")
    assert calls["gibbs"] == (None, False, 3, cpu)
    assert calls["vae"] == (sections.VaeBenchSettings(epochs=9), False, 3, cpu)
    assert calls["gan"] == (gan_runs.GanBenchSettings(n_seeds=2, datasets=("grid",),
                                                      configs=("vanilla",), steps=7, jobs=2,
                                                      runs_file=None), False, 3, cpu)
    printed = capsys.readouterr().out
    for name in calls:  # every table printed by the one formatter
        assert tables.format_section_text(name, results.load_results(name)) in printed
        assert (tmp_path / f"bench_{name}.json").is_file()
    with pytest.raises(SystemExit):  # --out names one file: one section
        cli.main(["--only", "gibbs,vae", "--out", str(tmp_path / "x.json")])


def test_gan_settings_explain_bad_input(capsys):
    with pytest.raises(ValueError, match=r"n_seeds \(--seeds\) must be a positive int, got 0"):
        gan_runs.GanBenchSettings(n_seeds=0)
    with pytest.raises(ValueError, match="unknown dataset 'moons'.*ring, grid"):
        gan_runs.GanBenchSettings(datasets=("moons",))
    with pytest.raises(ValueError, match="non-empty tuple of names.*configs=\\('vanilla',\\)"):
        gan_runs.GanBenchSettings(configs="vanilla")
    with pytest.raises(ValueError, match="unknown GAN configuration 'nope'"):
        gan_runs.GanBenchSettings(configs=("nope",))
    with pytest.raises(TypeError, match="settings must be a GanBenchSettings"):
        gan_runs.run_gan_section(toy_gan.ToyGanSettings(), log=None)
    with pytest.raises(SystemExit):
        cli.main(["--only", "gan", "--seeds", "0", "--out", "-"])
    assert "argument --seeds: expected a positive int (seeds per GAN), got '0'" in \
        capsys.readouterr().err
    with pytest.raises(ValueError, match=r"VaeBenchSettings.epochs \(or None\) must be a positive"):
        sections.VaeBenchSettings(epochs=0)


# ---------------------------------------------------------------------------- where results go


def tiny_gan_run(*extra: str) -> list[str]:
    return ["--only", "gan", "--steps", "3", "--seeds", "1", "--datasets", "ring", "--configs",
            "vanilla", "--device", "cpu", *extra]


@pytest.fixture
def package_and_build(tmp_path, monkeypatch):
    """The package's results folder and the build folder, both in tmp; the current folder
    is a third one, which nothing may touch."""
    package, build, cwd = tmp_path / "package_results", tmp_path / "build", tmp_path / "cwd"
    for folder in (package, cwd):
        folder.mkdir()
    monkeypatch.setattr(results, "RESULTS_DIR", package)
    monkeypatch.setattr(cli, "BUILD_DIR", build)
    monkeypatch.setattr(cli, "QUICK_DIR", build / "quick")
    monkeypatch.setattr(cli, "DEFAULT_RUNS_FILE", build / "gan_runs.jsonl")
    monkeypatch.chdir(cwd)
    yield package, build
    assert list(cwd.iterdir()) == []  # never relative to the current folder


def test_only_a_full_run_asked_for_writes_into_the_package(package_and_build, capsys):
    package, build = package_and_build
    cli.main(tiny_gan_run())  # a full run, not asked for: the build folder
    printed = capsys.readouterr().out
    assert f"results go to {build}/, not into the package ({package})" in printed
    assert f"wrote {build / 'bench_gan.json'}" in printed
    assert (build / "gan_runs.jsonl").is_file()  # the runs log stays outside the package
    assert list(package.iterdir()) == []


def test_publish_needs_a_full_run(package_and_build, capsys):
    package, _ = package_and_build
    for extra in (["--quick"], ["--steps", "3"], ["--seeds", "1"], ["--datasets", "ring"],
                  ["--out", "x.json"], ["--seed", "2"]):
        with pytest.raises(SystemExit):
            cli.main(["--only", "gan", "--publish", *extra])
        assert f"--publish replaces the book's results, so it needs a full run; drop {extra[0]}" \
            in capsys.readouterr().err
    assert list(package.iterdir()) == []


def test_publish_writes_into_the_package(package_and_build, monkeypatch, capsys):
    package, _ = package_and_build

    def fake_gibbs(settings=None, *, quick=False, seed=0, device=None, log=print):
        return results.load_results(DATA.parent.parent / "lib" / "genmodels" / "results"
                                    / "bench_gibbs.json")["gibbs"]

    monkeypatch.setattr(cli, "SECTIONS", {**cli.SECTIONS,
                                          "gibbs": cli.SECTIONS["gibbs"]._replace(run=fake_gibbs)})
    cli.main(["--only", "gibbs", "--publish", "--device", "cpu"])
    assert f"wrote {package / 'bench_gibbs.json'}" in capsys.readouterr().out
    assert results.load_results("gibbs")["quick"] is False  # what the chapters read


def test_a_quick_run_never_writes_into_the_package(package_and_build, tmp_path, capsys):
    package, build = package_and_build
    cli.main(tiny_gan_run("--quick"))
    printed = capsys.readouterr().out
    quick = build / "quick"
    assert f"results go to {quick}/, not into the package ({package})" in printed
    assert f"wrote {quick / 'bench_gan.json'}" in printed
    assert json.loads((quick / "bench_gan.json").read_text())["quick"] is True
    assert (quick / "gan_runs.jsonl").is_file()
    assert not (build / "gan_runs.jsonl").exists()  # a full run's log is left alone
    assert list(package.iterdir()) == []
    cli.main(tiny_gan_run("--quick", "--data-dir", str(tmp_path / "elsewhere")))
    assert (tmp_path / "elsewhere" / "bench_gan.json").is_file()
    assert list(package.iterdir()) == []


def test_the_default_folders_belong_to_the_checkout_not_the_current_folder():
    root = Path(__file__).resolve().parents[1]
    assert cli.BUILD_DIR == root / "_build" / "bench"
    assert cli.QUICK_DIR.parent == cli.DEFAULT_RUNS_FILE.parent == cli.BUILD_DIR


def test_a_run_without_resume_keeps_the_previous_runs_log(tmp_path, capsys):
    """Issue 18: starting the benchmark emptied the runs log before any run finished."""
    runs = tmp_path / "runs.jsonl"
    previous = '{"key": "k", "result": {"seed": 0}}\n'
    runs.write_text(previous)
    logged = []
    gan_runs.run_gan_bench(seeds=[0], datasets=["ring"], configs=[toy_gan.GAN_CONFIGS[0]],
                           settings=toy_gan.ToyGanSettings(steps=2, n_eval=20),
                           device=torch.device("cpu"), log=logged.append, runs_file=runs)
    (kept,) = [p for p in tmp_path.iterdir() if p != runs]
    assert kept.read_text() == previous
    assert kept.name.startswith("runs.") and kept.suffix == ".jsonl"
    assert any(f"kept the previous runs log as {kept}" in line for line in logged)
    assert len(runs.read_text().splitlines()) == 1  # this run's


def test_runs_log_and_json_replace_a_symlink_rather_than_write_through_it(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    out, runs = tmp_path / "bench_gan.json", tmp_path / "runs.jsonl"
    out.symlink_to(target)
    runs.symlink_to(target)
    cli.main(tiny_gan_run("--out", str(out), "--runs-file", str(runs), "--resume"))
    assert target.read_text() == "precious\n"
    assert not out.is_symlink() and json.loads(out.read_text())["section"] == "gan"
    assert not runs.is_symlink() and len(runs.read_text().splitlines()) == 1


def test_outputs_never_overwrite_a_tracked_source(tmp_path, capsys):
    import shutil

    root = Path(__file__).resolve().parents[1]
    source = root / "README.md"
    before = source.read_bytes()
    for flags in (["--out", str(source)], ["--runs-file", str(source), "--out", "-"],
                  ["--data-dir", str(root / "lib" / "genmodels" / "results")]):
        with pytest.raises((SystemExit, ValueError)) as caught:
            cli.main(tiny_gan_run(*flags))
        assert "tracked by git" in str(caught.value) or "only a full run with --publish" \
            in str(caught.value), flags
    assert source.read_bytes() == before
    assert shutil.which("git")


def test_resume_rejects_a_run_without_a_result_before_training(tmp_path, monkeypatch):
    runs = tmp_path / "runs.jsonl"
    settings = toy_gan.ToyGanSettings(steps=2, n_eval=20)
    config = toy_gan.GAN_CONFIGS[0]
    runs.write_text(json.dumps({"key": gan_runs.run_key("ring", config, settings, 0),
                                "result": {}}) + "\n")
    monkeypatch.setattr(gan_runs, "_one_run", lambda *a: pytest.fail("trained"))
    with pytest.raises(ValueError, match=r"line 1: not a run of the benchmark.*missing \['seed'"):
        gan_runs.run_gan_bench(seeds=[0, 1], datasets=["ring"], configs=[config],
                               settings=settings, device=torch.device("cpu"), log=None,
                               runs_file=runs, resume=True)


@pytest.mark.parametrize("flags, message", [
    (["--only", ","], "no section named in ','"),
    (["--jobs", "0"], "argument --jobs: expected a positive int (worker processes), got '0'"),
    (["--steps", "0"], "argument --steps: expected a positive int (training steps per GAN)"),
    (["--threads", "-2"], "argument --threads: expected a positive int (torch CPU threads)"),
    (["--vae-epochs", "x"], "argument --vae-epochs: expected a positive int (VAE epochs)"),
])
def test_bad_options_are_usage_errors(flags, message, capsys, monkeypatch):
    monkeypatch.setattr(gan_runs, "_one_run", lambda *a: pytest.fail("trained"))
    with pytest.raises(SystemExit) as caught:
        cli.main([*flags, "--out", "-"] if flags[0] != "--only" else flags)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------------------- resume keys


def old_run_keys() -> list[dict]:
    """Keys of the old benchmark (lib/genmodels/bench.py at commit 4257f5c) for every data
    set, variant and seed 0..4, with the full and the quick settings (tests/data)."""
    return json.loads((DATA / "gan_run_keys_4257f5c.json").read_text())["runs"]


def test_run_keys_are_those_of_the_old_benchmark():
    settings = {"default": gan_runs.GanBenchSettings().toy_gan_settings(quick=False),
                "quick": gan_runs.GanBenchSettings().toy_gan_settings(quick=True)}
    runs = old_run_keys()
    assert len(runs) == 2 * 2 * len(toy_gan.GAN_CONFIGS) * 5
    for run in runs:
        key = gan_runs.run_key(run["dataset"], toy_gan.config_by_name(run["config"]),
                               settings[run["settings"]][run["dataset"]], run["seed"])
        assert key == run["key"], run


def test_a_field_added_later_enters_the_key_only_away_from_its_default():
    config, settings = toy_gan.config_by_name("vanilla"), toy_gan.ToyGanSettings()
    key = gan_runs.run_key("ring", config, settings, 0)
    assert "betas" not in json.loads(key)["config"] and "lr_decay" not in key
    for changed in (replace(config, betas=(0.0, 0.9)), replace(config, batch_counts_packs=True)):
        assert gan_runs.run_key("ring", changed, settings, 0) != key
    assert gan_runs.run_key("ring", config, replace(settings, lr_decay=False), 0) != key
    assert gan_runs.run_key("ring", config, settings, 0, record_every=10) != key


@pytest.mark.parametrize("quick", [False, True])
def test_runs_recorded_by_the_old_benchmark_are_resumed_not_retrained(tmp_path, monkeypatch, quick):
    """A runs file of the old code resumes the new section without training one GAN."""
    name = "quick" if quick else "default"
    recorded = [r for r in old_run_keys() if r["settings"] == name]
    runs_file = tmp_path / "gan_runs.jsonl"
    runs_file.write_text("".join(json.dumps({"key": r["key"], "result": {
        "seed": r["seed"], "modes_captured": r["seed"], "high_quality_share": 0.5,
        "reverse_kl": None, "wall_time": 1.0, "from_commit": "4257f5c"}}) + "\n"
        for r in recorded))

    def no_training(*task):
        raise AssertionError(f"retrained {task[:2]}: its key differs from the recorded run's")

    monkeypatch.setattr(gan_runs, "_one_run", no_training)
    settings = gan_runs.GanBenchSettings(runs_file=runs_file, resume=True)
    section = gan_runs.run_gan_section(settings, quick=quick, device=torch.device("cpu"), log=None)
    assert len(recorded) == 70 and section["reused_runs"] == (14 if quick else 70)  # 1 seed if quick
    assert [s["modes_captured"] for s in section["results"][0]["per_seed"]] == \
        list(section["seeds"])


# ---------------------------------------------------------------------------- fault injection


@pytest.mark.slow
def test_a_benchmark_killed_mid_run_loses_at_most_the_run_in_flight(tmp_path):
    """SIGKILL the benchmark as soon as its first run is recorded: --resume then reuses every
    run it recorded (at most the run in flight is lost) and trains only the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time

    runs, out = tmp_path / "runs.jsonl", tmp_path / "bench_gan.json"
    command = [sys.executable, "-m", "genmodels.bench", "--only", "gan", "--steps", "40",
               "--seeds", "4", "--datasets", "ring", "--configs", "vanilla", "--device", "cpu",
               "--runs-file", str(runs)]
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "lib")}
    process = subprocess.Popen([*command, "--out", "-"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (runs.exists() and runs.read_text().count("\n") >= 1):
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "no run recorded in 120 s"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    printed = process.communicate()[0]
    assert process.returncode == -signal.SIGKILL
    recorded = gan_runs.read_finished_runs(runs)
    finished = printed.count("ring vanilla ")  # runs reported finished before the kill
    assert 1 <= len(recorded) < 4 and finished <= len(recorded)

    resumed = subprocess.run([*command, "--resume", "--out", str(out)], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    section = json.loads(out.read_text())["gan"]
    assert section["reused_runs"] == len(recorded)  # nothing recorded was lost
    assert [s["seed"] for s in section["results"][0]["per_seed"]] == [0, 1, 2, 3]
    assert len(gan_runs.read_finished_runs(runs)) == 4
    assert sorted(tmp_path.iterdir()) == sorted([runs, out])  # --resume kept no other copy
