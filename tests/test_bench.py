"""Smoke tests of ``python -m genmodels.bench`` on a tiny budget: structure, not numbers."""

from __future__ import annotations

import json
import math

import pytest
import torch

from genmodels import results
from genmodels.bench import cli, gan_runs, provenance
from genmodels.experiments import toy_gan
from genmodels.results import tables


def test_cli_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "cli.json"
    docs = cli.main(["--only", "gan", "--quick", "--steps", "20", "--datasets", "ring",
                       "--configs", "vanilla,pacgan", "--out", str(out), "--device", "cpu",
                       "--runs-file", str(tmp_path / "runs.jsonl")])
    printed = capsys.readouterr().out
    assert "vanilla GAN (saturating loss)" in printed
    assert "published: PacGAN2" in printed
    assert f"wrote {out}" in printed

    doc = json.loads(out.read_text())  # strict JSON: no NaN/inf
    assert doc == json.loads(json.dumps(docs["gan"]))
    assert doc["schema"] == results.SCHEMA_VERSION
    for key in ("cpu", "cpu_count", "torch", "device", "python"):
        assert key in doc["machine"]
    assert doc["machine"]["torch"] == torch.__version__
    section = doc["gan"]
    assert section["seeds"] == [0]
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
    assert methods == {("ring", "VEEGAN"), ("ring", "PacGAN2"), ("grid", "PacGAN4")}
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
    table = tables.format_gan_table(section)
    assert "grid" in table and "/25" in table


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

    try:
        data.load_fashion_mnist("test", download=False)
    except data.DatasetError:
        pytest.skip("Fashion-MNIST is not available offline here")
    section = cli.run_vae_bench(epochs=1, n_train=256, n_test=128, batch_size=64,
                                  device=torch.device("cpu"), log=None)
    assert section["n_train"] == 256 and section["n_test"] == 128
    assert section["seconds_per_epoch"] > 0
    # A Bernoulli ELBO is a log-likelihood bound: negative, and finite.
    assert math.isfinite(section["test_elbo"]) and section["test_elbo"] < 0
    assert "MLPVAE" in cli.format_vae_table(section)


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
