"""The chapter sections of ``python -m genmodels.bench`` and the results appendix that renders them.

Smoke tests on tiny budgets (structure, reproducibility), independent checks where they are
cheap (an untrained RBM against independent pixels), and the appendix's JSON files. Every
chapter shares its experiment code and settings with the bench (genmodels.gibbs, rbm, vae,
evaluation, image_gan, gan and comparison), so no test compares copies of settings. The
library functions the sections call are tested in tests/test_gibbs.py, test_rbm.py,
test_vae.py, test_evaluation.py, test_image_gan.py, test_gan.py, test_comparison.py and
test_train.py.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import re
from pathlib import Path

import nbformat
import pytest
import torch

from genmodels import gan, results
from genmodels.bench import cli, sections
from genmodels.core.device import seed_everything
from genmodels.experiments import family_comparison, gibbs_mixing, image_gan, rbm_digits
from genmodels.measure import sample_quality
from genmodels.results import RESULTS_DIR, tables

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
APPENDIX = BOOK / "appendix_results.ipynb"
CPU = torch.device("cpu")


def needs_fashion_mnist_and_classifier() -> None:
    from genmodels.core import data
    from genmodels.measure.classifier import classifier_cache_path

    try:
        data.load_fashion_mnist("test", download=False)
    except data.DatasetError:
        pytest.skip("Fashion-MNIST is not available offline here")
    if not classifier_cache_path().is_file():
        pytest.skip("the Fashion-MNIST classifier is not cached yet (make classifier)")


# ---------------------------------------------------------------------------- chapter 3


def test_gibbs_bench_reports_the_library_measurement_with_a_fresh_generator():
    settings = gibbs_mixing.MixingSettings(rhos=(0.0, 0.9), n_sweeps=300, n_chains=3, burn_in=20)
    section = sections.run_gibbs_bench(settings, seed=1, log=None)
    generator = seed_everything(1)
    for row, rho in zip(section["rows"], settings.rhos, strict=True):
        measured = gibbs_mixing.measure_mixing(rho, settings, generator)  # the rows' draws, in order
        assert row["rho"] == rho
        assert row["measured"] == dataclasses.asdict(measured)
        assert row["closed_form"]["lag1"] == pytest.approx(rho**2)
    assert section["settings"] == dataclasses.asdict(settings)
    json.dumps(section, allow_nan=False)


def test_rbm_bench_structure_and_starting_point():
    settings = rbm_digits.DigitsRBMSettings(epochs_cpu=1, epochs_gpu=1, large_hidden=8, chain_steps=5,
                                     n_chain_samples=10, rules=("CD-1", "PCD-1"),
                                     large_rules=("CD-1",))
    section = sections.run_rbm_bench(settings, device=CPU, log=None)
    assert [r["rule"] for r in section["small"]] == ["CD-1", "PCD-1"]
    assert section["settings"]["epochs"] == 1 and section["settings"]["n_test"] == 297
    x_train, x_test = rbm_digits.binarised_digits_split(1500, 0, CPU)
    p = x_train.mean(0).clamp(0.01, 0.99).double()
    independent = (x_test * p.log() + (1 - x_test) * (1 - p).log()).sum(1).mean().item()
    for row in section["small"]:
        curve = row["test_log_likelihood_per_epoch"]
        assert len(curve) == 2 and curve[-1] == row["test_log_likelihood"]
        assert curve[0] == pytest.approx(independent, abs=0.02)  # the same untrained model
        assert row["test_log_likelihood"] < 0
    (large,) = section["large"]
    assert large["rule"] == "CD-1" and math.isfinite(large["free_energy_samples"])
    assert section["seeds"] == {"split": 0, "small_weights": 1, "small_training": 2,
                                "large_weights": 3, "large_training": 4, "seed_everything": 0}
    json.dumps(section, allow_nan=False)
    shifted = sections.run_rbm_bench(settings, seed=1, device=CPU, log=None)["seeds"]
    assert shifted == {"split": 1, "small_weights": 2, "small_training": 3,
                       "large_weights": 4, "large_training": 5, "seed_everything": 1}


# ---------------------------------------------------------------------------- chapters 6, 8, 11


def test_vae_bench_bounds_and_kl_per_dimension():
    needs_fashion_mnist_and_classifier()
    section = sections.run_vae_bench(sections.VaeBenchSettings(epochs=1, n_train=512, n_test=200),
                                     device=CPU, log=None)
    assert section["model"].startswith("MLPVAE(latent_dim=16, hidden=(256,))")  # chapter 6's vae16
    assert section["n_train"] == 512 and section["n_test"] == section["n_iwae"] == 200
    iwae = [section["iwae"][k]["mean"] for k in ("1", "10", "100")]
    assert iwae[0] < iwae[1] < iwae[2] < 0  # eq-iwae-bound tightens with k
    # The KL per dimension (evaluation.kl_per_dimension) sums to the ELBO's closed-form KL term.
    assert sum(section["kl_per_dimension"]) == pytest.approx(section["test_kl"], rel=1e-4)
    assert 0 <= section["active_units"] <= 16
    fd = section["frechet"]
    assert fd["n"] == 200 and fd["real_train_images"] < fd["prior_samples"]
    json.dumps(section, allow_nan=False)


def test_image_gan_bench_is_the_chapters_functions_in_the_chapters_order():
    needs_fashion_mnist_and_classifier()
    settings = image_gan.ImageGanSettings(mlp_steps_cpu=4, mlp_steps_gpu=4, dcgan_steps_cpu=2,
                                          dcgan_steps_gpu=2, n_eval=150, snapshots=2,
                                          mlp_summary_last=2, dcgan_summary_last=2)
    section = sections.run_image_gan_bench(settings, device=CPU, log=None)
    mlp, dcgan = section["runs"]
    assert (mlp["model"], mlp["steps"], dcgan["model"], dcgan["steps"]) == ("MLP GAN", 4, "DCGAN", 2)
    assert mlp["frechet_over_training"]["step"] == [0, 2, 4]
    assert mlp["final_fd"] == mlp["frechet_over_training"]["fd"][-1]
    ref = section["reference_fd"]
    assert ref["real training images"] < min(ref["blurred real images"], ref["uniform noise"])
    json.dumps(section, allow_nan=False)

    # The chapter's cells, by hand: the same numbers, digit for digit.
    from genmodels.measure.classifier import load_fashion_classifier

    generator = seed_everything(0)
    x_train, x_test, train_set, _ = sections.fashion_mnist_images(CPU)
    frechet_to_test = sample_quality.FrechetReference(x_test, load_fashion_classifier(CPU))
    assert image_gan.reference_frechet_distances(x_train, train_set.labels, frechet_to_test, 150,
                                                 generator) == ref
    players = (lambda: gan.mlp_gan_players(settings.latent_dim, CPU, settings.mlp_hidden),
               lambda: gan.dcgan_players(settings.latent_dim, CPU, settings.channels))
    for run, build in zip((mlp, dcgan), players, strict=True):
        torch.manual_seed(0)
        G, D = build()
        history, recorder = image_gan.train_gan_recording_samples(G, D, x_train, run["steps"],
                                                                  settings, generator)
        assert image_gan.frechet_distances_over_training(recorder, frechet_to_test) == \
            run["frechet_over_training"]["fd"]
        assert image_gan.means_over_last_steps(history, 2) == run["last_steps_mean"]


def test_comparison_bench_structure():
    needs_fashion_mnist_and_classifier()
    settings = family_comparison.ComparisonSettings(
        steps_cpu=8, steps_gpu=8, n_eval=150, gibbs_steps=(1, 2), n_likelihood=40,
        n_pseudo_likelihood=4, iwae_ks=(1, 4))
    threads = torch.get_num_threads()
    section = sections.run_comparison_bench(settings, device=CPU, log=None)
    assert torch.get_num_threads() == threads  # the chapter's single thread is not left behind
    assert section["torch_threads"] == 1
    assert list(section["models"]) == ["VAE", "GAN", "RBM"]
    for name, m in section["models"].items():
        assert sum(m["shares"]) == pytest.approx(1.0)
        assert 0 <= m["kl_to_uniform"] <= math.log(10) + 1e-9, name
        assert m["covered"] == sum(s >= 0.01 for s in m["shares"])
    vae = section["models"]["VAE"]["likelihood"]
    assert vae["bits_per_dim_upper_bound"] == pytest.approx(-vae["iwae"]["4"] / (784 * math.log(2)))
    assert [r["steps"] for r in section["gibbs_steps"]] == [1, 2]
    assert section["models"]["RBM"]["fd_binary"] == section["gibbs_steps"][-1]["fd"]
    assert section["settings"]["steps"] == 8
    json.dumps(section, allow_nan=False)


def test_no_notebook_redefines_a_bench_sections_function():
    """A chapter that defines a function of the same name would duplicate library code
    (tests/test_book_sources.py forbids it); the sections' helpers have names of their own."""
    public = {n for n, o in vars(sections).items()
              if callable(o) and getattr(o, "__module__", "") == sections.__name__
              and not n.startswith("_")}
    for path in sorted(BOOK.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            source = "\n".join(line for line in cell.source.splitlines()
                               if not line.lstrip().startswith(("!", "%")))
            defined = {node.name for node in ast.walk(ast.parse(source))
                       if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
            assert not defined & public, f"{path.name} defines {sorted(defined & public)}"


def test_references_cite_existing_keys_and_labels():
    """Every source a section names is a key of references.bib or an equation label of the book."""
    bib = set(re.findall(r"@\w+\{([^,]+),", (ROOT / "references.bib").read_text()))
    labels = set()
    for path in BOOK.glob("ch*.ipynb"):
        labels |= set(re.findall(r"\$\$\s*\((eq-[\w-]+)\)", path.read_text()))
    docs = {name: results.load_results(RESULTS_DIR / f"bench_{name}.json")
            for name in sections.SECTIONS}
    for name, doc in docs.items():
        for ref in doc[name].get("references", []):  # the GAN section cites its published rows
            for token in re.split(r",\s*", ref["source"]):
                token = token.removeprefix("closed form").strip()
                if not token:
                    continue
                known = labels if token.startswith("eq-") else bib
                assert token in known, f"{name}: unknown reference {token!r}"


# ---------------------------------------------------------------------------- the command line


def test_cli_writes_a_chapter_section_with_the_common_header(tmp_path, capsys):
    docs = cli.main(["--only", "gibbs", "--quick", "--data-dir", str(tmp_path),
                       "--device", "cpu"])
    out = tmp_path / "bench_gibbs.json"
    assert f"wrote {out}" in capsys.readouterr().out
    doc = results.load_results(out)
    assert doc == json.loads(json.dumps(docs["gibbs"]))
    assert doc["section"] == "gibbs" and doc["quick"] is True and doc["seeds"] == [0]
    for key in ("cpu", "cpu_count", "python", "torch", "numpy", "genmodels", "device",
                "load_average_1min_at_start"):
        assert key in doc["machine"], key
    assert "load_average_1min_at_end" in doc
    assert doc["gibbs"]["settings"] == json.loads(json.dumps(vars(sections.QUICK_GIBBS)))


def test_cli_section_names():
    assert cli._sections("chapters") == [n for n in sections.SECTIONS if n != "gan"]
    assert cli._sections("all") == list(sections.SECTIONS)
    assert cli._sections("vae,gan") == ["gan", "vae"]
    with pytest.raises(SystemExit):
        cli._parse_args(["--only", "gibbs,nope"])


# ---------------------------------------------------------------------------- the appendix


def appendix_sections() -> list[str]:
    nb = nbformat.read(APPENDIX, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return re.findall(r'show\("(\w+)"\)', code)


def test_the_appendix_shows_every_section():
    # and the GAN search's file, written by `python -m genmodels.bench.gan_search publish`
    assert sorted(appendix_sections()) == sorted([*sections.SECTIONS, "gan_search"])


@pytest.mark.parametrize("name", appendix_sections())
def test_appendix_json_exists_with_every_key_the_page_reads(name):
    doc = results.load_results(RESULTS_DIR / f"bench_{name}.json")
    for key in ("schema", "created", "command", "machine", name):
        assert key in doc, f"bench_{name}.json lacks {key!r}"
    # section_html reads every key the page shows; a missing one raises KeyError here.
    html = tables.section_html(name, doc)
    assert "<table" in html and "Produced" in html
    assert doc["section"] == name and doc["seeds"] == sections.seeds_of(doc[name])
    chapter = sections.SECTIONS[name].chapter if name in sections.SECTIONS else doc[name]["chapter"]
    # The shipped bench_gan.json predates the GAN section's "chapter" key; newer files have it.
    assert doc[name].get("chapter", chapter) == chapter
    assert f"{{doc}}`{chapter}`" in APPENDIX.read_text(), f"the appendix does not link {chapter}"


def test_appendix_cells_run_and_fail_loudly_without_results(tmp_path, monkeypatch):
    nb = nbformat.read(APPENDIX, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    monkeypatch.chdir(BOOK)  # where the book's build runs the page
    shown: list[object] = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **_: shown.extend(objs))
    namespace: dict[str, object] = {}
    for source in cells:
        exec(compile(source, str(APPENDIX), "exec"), namespace)
    assert len(shown) == len(appendix_sections())
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)  # a package without its results
    with pytest.raises(FileNotFoundError, match="python -m genmodels.bench"):
        namespace["show"]("vae")


def test_section_html_explains_bad_input():
    doc = results.load_results(RESULTS_DIR / "bench_vae.json")
    with pytest.raises(ValueError, match="unknown benchmark section 'nope'"):
        tables.section_html("nope", doc)
    with pytest.raises(KeyError, match="--only gibbs"):
        tables.section_html("gibbs", doc)


def test_quick_results_are_flagged():
    doc = results.load_results(RESULTS_DIR / "bench_gibbs.json")
    flagged = "Smoke run" in tables.section_html("gibbs", doc)
    assert flagged == bool(doc.get("quick"))


def test_reused_gan_runs_are_disclosed_with_their_commit():
    doc = results.load_results(RESULTS_DIR / "bench_gan.json")
    section = json.loads(json.dumps(doc["gan"]))
    assert "reused (--resume)" not in tables.provenance_text("gan", {**doc, "gan": {
        **section, "reused_runs": 0}})
    section["reused_runs"] = 1
    section["results"][0]["per_seed"][0]["from_commit"] = "0123456789abcdef"
    text = tables.provenance_text("gan", {**doc, "gan": section})
    assert "1 of its runs were not retrained but reused (--resume)" in text
    commits = text.split("by commit ", 1)[1].rstrip(".").split(", ")
    assert "0123456789" in commits


def test_gan_numbers_are_the_sections_means_and_ranges():
    section = {
        "settings": {"grid": {"steps": 300}},
        "results": [
            {"dataset": "grid", "config": cfg, "mean": {"modes_captured": sum(m) / 2,
                                                        "high_quality_share": sum(q) / 2},
             "per_seed": [{"modes_captured": a, "high_quality_share": b} for a, b in zip(m, q, strict=True)]}
            for cfg, m, q in [("vanilla", (20, 25), (0.8, 0.9)),
                              ("wgan_gp", (10, 12), (0.01, 0.03)),
                              ("minibatch_std", (25, 25), (0.92, 0.96))]],
    }
    n = tables.gan_numbers(section)
    assert n["grid_vanilla_modes"] == 22.5 and n["grid_vanilla_modes_min"] == 20
    assert n["grid_vanilla_hq"] == pytest.approx(85.0)
    assert (n["grid_minibatch_std_hq_min"], n["grid_minibatch_std_hq_max"]) == pytest.approx((92, 96))
    assert n["grid_steps"] == 300
    # The range over the variants that learn leaves out the Lipschitz-constrained ones.
    assert (n["grid_hq_lo"], n["grid_hq_hi"]) == pytest.approx((85.0, 94.0))
    assert tables.glue_numbers({"x": 1.5}) == {"x": 1.5}


def test_every_number_the_remedies_chapter_pastes_is_in_the_benchmark_files():
    chapter = nbformat.read(BOOK / "ch10_gan_remedies.ipynb", as_version=4)
    text = "\n".join(c.source for c in chapter.cells if c.cell_type == "markdown")
    pasted = re.findall(r"\{glue:text\}`([^`:]+)(?::[^`]*)?`", text)
    assert len(pasted) >= 10, "chapter 10 quotes its benchmark numbers with {glue:text}"
    numbers = tables.remedies_numbers(results.load_results(RESULTS_DIR / "bench_gan_search.json")["gan_search"],
                                      results.load_results(RESULTS_DIR / "bench_gan.json")["gan"])
    assert set(pasted) <= set(numbers), set(pasted) - set(numbers)
    code = "\n".join(c.source for c in chapter.cells if c.cell_type == "code")
    assert "glue_numbers(tables.remedies_numbers(search, shared))" in code


def test_gan_section_shows_each_data_sets_training_settings():
    doc = results.load_results(RESULTS_DIR / "bench_gan.json")
    section = json.loads(json.dumps(doc["gan"]))
    section["settings"]["grid"].update(width=64, d_width=None, depth=5, steps=12345)
    settings_table = tables.gan_tables(section)[-1]
    grid_row = next(row for row in settings_table.rows if row[0] == "grid")
    assert grid_row[1] == "12,345" and grid_row[4] == grid_row[5] == "5 × 64"


def test_appendix_gpu_table_quotes_its_raw_files_and_the_cpu_benchmarks():
    """The GPU section is measured once by hand (no GPU builds the site); its numbers must
    still be those of the files it names, and its CPU column those of the benchmark files,
    so regenerating a benchmark file flags the text that quotes it."""
    appendix = nbformat.read(APPENDIX, as_version=4)
    text = next(c.source for c in appendix.cells if c.get("id") == "gpu-h100-figures")
    data = RESULTS_DIR
    gpu_gan = json.loads((data / "gpu_h100_bench_gan_grid_minibatch_std.json").read_text())
    (gpu_row,) = gpu_gan["gan"]["results"]
    (gpu_run,) = gpu_row["per_seed"]
    assert "H100" in gpu_gan["machine"]["device"]
    assert (f"{gpu_run['wall_time']:.1f} s: {gpu_run['modes_captured']}/25 modes, "
            f"{100 * gpu_run['high_quality_share']:.1f} % high quality") in text
    cpu_gan = results.load_results(data / "bench_gan.json")["gan"]["results"]
    cpu_row = next(r for r in cpu_gan if (r["dataset"], r["config"]) == ("grid", "minibatch_std"))
    cpu_run = next(r for r in cpu_row["per_seed"] if r["seed"] == gpu_run["seed"])
    assert (f"{cpu_run['wall_time']:.1f} s: {cpu_run['modes_captured']}/25 modes, "
            f"{100 * cpu_run['high_quality_share']:.1f} %") in text
    times = json.loads((data / "gpu_h100_notebook_times.json").read_text())
    assert f"{times['seconds']['ch06_vae_practice']:.1f} s" in text
    cpu_elbo = results.load_results(data / "bench_vae.json")["vae"]["test_elbo"]
    assert f"−{-cpu_elbo:.1f} nats after the CPU's" in text
