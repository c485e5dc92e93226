"""The chapter sections of ``python -m genmodels.bench`` and the results appendix that renders them.

Smoke tests on tiny budgets (structure, reproducibility), independent checks where they are
cheap (Gibbs mixing against its closed form, an untrained RBM against independent pixels),
a guard that the sections still use the chapters' settings, and the appendix's JSON files.
"""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path

import nbformat
import pytest
import torch
from genmodels import bench, bench_chapters, rbm
from genmodels.bench_chapters import Budget

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
APPENDIX = BOOK / "appendix_results.ipynb"
CPU = torch.device("cpu")


def chapter_code(stem: str) -> str:
    nb = nbformat.read(BOOK / f"{stem}.ipynb", as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def needs_fashion_mnist_and_classifier() -> None:
    from genmodels import data
    from genmodels.classifier import classifier_cache_path

    try:
        data.load_fashion_mnist("test", download=False)
    except data.DatasetError:
        pytest.skip("Fashion-MNIST is not available offline here")
    if not classifier_cache_path().is_file():
        pytest.skip("the Fashion-MNIST classifier is not cached yet (make classifier)")


# ---------------------------------------------------------------------------- shared pieces


def test_fixed_step_minibatches_draws_one_permutation_per_pass():
    x = torch.arange(10.0).reshape(10, 1)
    g = torch.Generator().manual_seed(5)
    batches = list(bench_chapters.fixed_step_minibatches(x, n_steps=7, batch_size=3, generator=g)())
    assert [tuple(b.shape) for b in batches] == [(3, 1)] * 7
    first_pass = torch.cat(batches[:3]).flatten().tolist()
    assert len(set(first_pass)) == 9  # a pass holds each row at most once (the last one dropped)
    # 7 batches of 3 from passes of 3 full batches: exactly 3 permutations were drawn
    reference = torch.Generator().manual_seed(5)
    perms = [torch.randperm(10, generator=reference) for _ in range(3)]
    assert torch.equal(g.get_state(), reference.get_state())
    assert first_pass == perms[0][:9].tolist()


def test_fixed_step_minibatches_rejects_bad_budgets():
    x = torch.zeros(4, 1)
    with pytest.raises(ValueError, match="n_steps must be a positive int"):
        bench_chapters.fixed_step_minibatches(x, 0, 2, torch.Generator())
    with pytest.raises(ValueError, match="fewer than one batch"):
        bench_chapters.fixed_step_minibatches(x, 3, 8, torch.Generator())


# ---------------------------------------------------------------------------- chapter 3


def tau_relative_error(tau: float, n_per_chain: int, n_chains: int) -> float:
    """Standard deviation of τ̂/τ averaged over chains: Sokal's sqrt(2(2M + 1)/n) for a
    summation window M, here M ≈ 5τ (where Geyer's sequence typically stops)."""
    return math.sqrt(2 * (2 * 5 * tau + 1) / n_per_chain) / math.sqrt(n_chains)


def test_gibbs_bench_agrees_with_the_closed_forms_within_monte_carlo_error():
    settings = bench_chapters.GibbsSettings(rhos=(0.0, 0.5, 0.9), n_sweeps=2000, n_chains=8,
                                            burn_in=100)
    section = bench_chapters.run_gibbs_bench(settings, seed=1, log=None)
    per_chain = settings.n_sweeps - settings.burn_in
    n = settings.n_chains * per_chain
    for row in section["rows"]:
        rho, m = row["rho"], row["measured"]
        phi = rho**2
        tau = (1 + phi) / (1 - phi)
        assert row["closed_form"] == pytest.approx(
            {"lag1": phi, "tau": tau, "ess_per_update": 1 / (2 * tau)})
        # The lag-1 estimator of an AR(1) process has standard deviation sqrt((1 − φ²)/n);
        # 5 of them, plus its O(1/n_per_chain) bias.
        assert abs(m["lag1"] - phi) < 5 * math.sqrt((1 - phi**2) / n) + 0.005, row
        tolerance = 4 * tau_relative_error(tau, per_chain, settings.n_chains)
        assert m["tau"] == pytest.approx(tau, rel=tolerance), row
        assert m["ess_per_update_systematic"] == pytest.approx(1 / (2 * tau), rel=tolerance), row
    # The random scan at ρ = 0 keeps a coordinate with probability ½: AR(1) with φ = ½, τ = 3,
    # ESS 1/3 per update (chapter 3).
    tolerance = 4 * tau_relative_error(3, 2 * per_chain, settings.n_chains)
    assert section["rows"][0]["measured"]["ess_per_update_random"] == pytest.approx(1 / 3, rel=tolerance)
    json.dumps(section, allow_nan=False)


def test_gibbs_settings_are_checked():
    with pytest.raises(ValueError, match="burn_in"):
        bench_chapters.GibbsSettings(n_sweeps=100, burn_in=99)
    with pytest.raises(ValueError, match="n_chains must be a positive int"):
        bench_chapters.GibbsSettings(n_chains=0)


def test_untrained_rbm_is_the_independent_pixel_model():
    """With weights of std 0.01 the RBM is nearly the product of Bernoulli(sigmoid(b_i)) pixels,
    whose log-likelihood needs no partition function: an independent check of the split, the
    data log-odds initialisation and the exact likelihood the section reports."""
    x_train, x_test = bench_chapters.binarised_digits_split(1500, 0, CPU)
    assert x_train.shape == (1500, 64) and x_test.shape == (297, 64)
    model = bench_chapters.rbm_with_data_log_odds(x_train, 16, seed=1, device=CPU)
    p = x_train.mean(0).clamp(0.01, 0.99).double()
    v = x_test.double()
    independent = (v * p.log() + (1 - v) * (1 - p).log()).sum(1).mean().item()
    assert rbm.exact_log_likelihood(model, x_test).mean().item() == pytest.approx(independent, abs=0.02)


def test_rbm_bench_structure_and_starting_point():
    settings = bench_chapters.RBMSettings(epochs=Budget(1, 1), large_hidden=8, chain_steps=5,
                                          n_chain_samples=10, rules=("CD-1", "PCD-1"),
                                          large_rules=("CD-1",))
    section = bench_chapters.run_rbm_bench(settings, device=CPU, log=None)
    assert [r["rule"] for r in section["small"]] == ["CD-1", "PCD-1"]
    x_train, x_test = bench_chapters.binarised_digits_split(1500, 0, CPU)
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
    with pytest.raises(ValueError, match="unknown RBM training rule 'CD-2'"):
        bench_chapters.RBMSettings(rules=("CD-2",))


# ---------------------------------------------------------------------------- chapters 6, 8, 10


def test_vae_bench_bounds_and_kl_per_dimension():
    needs_fashion_mnist_and_classifier()
    section = bench_chapters.run_vae_bench(epochs=1, n_train=512, n_test=200, device=CPU, log=None)
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


def test_image_gan_bench_same_seed_same_numbers():
    needs_fashion_mnist_and_classifier()
    settings = bench_chapters.ImageGanSettings(mlp_steps=Budget(4, 4), dcgan_steps=Budget(2, 2),
                                               n_eval=150, snapshots=2, summary_last=(2, 2))
    a = bench_chapters.run_image_gan_bench(settings, device=CPU, log=None)
    b = bench_chapters.run_image_gan_bench(settings, device=CPU, log=None)
    assert a["reference_fd"] == b["reference_fd"]
    assert [r["frechet_over_training"] for r in a["runs"]] == [r["frechet_over_training"]
                                                              for r in b["runs"]]
    mlp, dcgan = a["runs"]
    assert (mlp["model"], mlp["steps"], dcgan["model"], dcgan["steps"]) == ("MLP GAN", 4, "DCGAN", 2)
    assert mlp["frechet_over_training"]["step"] == [0, 2, 4]
    assert mlp["final_fd"] == mlp["frechet_over_training"]["fd"][-1]
    ref = a["reference_fd"]
    assert ref["real training images"] < min(ref["blurred real images"], ref["uniform noise"])
    json.dumps(a, allow_nan=False)


def test_comparison_bench_structure():
    needs_fashion_mnist_and_classifier()
    settings = bench_chapters.ComparisonSettings(
        steps=Budget(8, 8), n_eval=150, gibbs_steps=(1, 2), n_likelihood=40,
        n_pseudo_likelihood=4, iwae_ks=(1, 4))
    threads = torch.get_num_threads()
    section = bench_chapters.run_comparison_bench(settings, device=CPU, log=None)
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
    json.dumps(section, allow_nan=False)
    with pytest.raises(ValueError, match="gibbs_steps must be increasing"):
        bench_chapters.ComparisonSettings(gibbs_steps=(3, 1))


# ---------------------------------------------------------------------------- the chapters' settings


def _underscored(n: int) -> str:
    return f"{n:_}"


NUMBER = r"([-+\d._e]+)"


def chapter_settings() -> list[tuple[str, str, tuple[float, ...]]]:
    """(chapter, regex, values) for every setting a section copies from a chapter: the chapter's
    code must match the regex, and its groups must equal the values (as numbers)."""
    g, r = bench_chapters.GibbsSettings(), bench_chapters.RBMSettings()
    v, i = bench_chapters.VaeSettings(), bench_chapters.ImageGanSettings()
    c = bench_chapters.ComparisonSettings()
    ch03, ch06, ch08, ch10 = ("ch03_gibbs_sampling", "ch06_vae_practice", "ch08_gan_practice",
                              "ch10_comparison")
    literal = re.escape
    return [
        (ch03, literal(f"rhos = {list(g.rhos)}"), ()),
        (ch03, literal(f"n_sweeps, n_chains = {g.n_sweeps}, {g.n_chains}"), ()),
        (ch03, literal(f"[:, {g.burn_in}:, 0]"), ()),
        (ch03, literal(f"[:, {2 * g.burn_in}:, 0]"), ()),
        (ch03, literal(f"budget_for(device, cpu={r.epochs.cpu}, gpu={r.epochs.gpu})"), ()),
        (ch03, literal(f"x_all[perm[:{r.n_train}]]"), ()),
        (ch03, rf"lr={NUMBER}, momentum={NUMBER}, batch_size={NUMBER}",
         (r.lr, r.momentum, r.batch_size)),
        (ch03, literal(f"new_rbm({r.small_hidden}, seed=1)"), ()),
        (ch03, literal("generator=torch.Generator().manual_seed(2)"), ()),
        (ch03, literal(f"new_rbm({r.large_hidden}, seed=3)"), ()),
        (ch03, literal("generator=torch.Generator().manual_seed(4)"), ()),
        (ch03, literal(f"model.sample({r.n_chain_samples}, {r.chain_steps}, generator)"), ()),
        *((ch03, literal(f'"{name}": dict(k={spec["k"]}, persistent={spec["persistent"]})'), ())
          for name, spec in bench_chapters.RBM_RULES.items()),
        (ch06, literal(f"budget_for(device, cpu={v.epochs.cpu}, gpu={v.epochs.gpu})"), ()),
        (ch06, literal(f"vae.MLPVAE(latent_dim={v.latent_dim}, hidden={v.hidden})"), ()),
        (ch06, rf"def train_model\(model, loss_terms, epochs, lr={NUMBER}, batch_size={NUMBER}\)",
         (v.lr, v.batch_size)),
        (ch06, literal(f"x_train[:{v.n_train_elbo}]"), ()),
        (ch06, literal(f"KS = {v.iwae_ks}"), ()),
        (ch06, literal(f"x_eval = x_test[:{v.n_iwae}]"), ()),
        (ch06, literal(f"torch.randn({v.n_fd}, d, generator=generator)"), ()),
        (ch06, literal(f"x_test[:{v.n_fd}], classifier)"), ()),
        (ch08, literal(f"MLP_STEPS = budget_for(device, cpu={_underscored(i.mlp_steps.cpu)}, "
                       f"gpu={_underscored(i.mlp_steps.gpu)})"), ()),
        (ch08, literal(f"DCGAN_STEPS = budget_for(device, cpu={_underscored(i.dcgan_steps.cpu)}, "
                       f"gpu={_underscored(i.dcgan_steps.gpu)})"), ()),
        (ch08, literal(f"BATCH = {i.batch_size}"), ()),
        (ch08, literal(f"LATENT = {i.latent_dim}"), ()),
        (ch08, literal(f"CHANNELS = {i.channels}"), ()),
        (ch08, literal(f"N_EVAL = {i.n_eval}"), ()),
        (ch08, rf"lr={NUMBER}, betas=\({NUMBER}, {NUMBER}\)", (i.lr, *i.betas)),
        (ch08, literal(f"every=max(n_steps // {i.snapshots}, 1)"), ()),
        (ch08, literal(f"def summarise(history, last={i.summary_last[0]}):"), ()),
        (ch08, literal(f"summarise(dc_history, last={i.summary_last[1]})"), ()),
        (ch08, literal("hidden=(256, 512), out_shape=(1, 28, 28), final=nn.Sigmoid()"), ()),
        (ch10, literal(f"STEPS = budget_for(device, cpu={_underscored(c.steps.cpu)}, "
                       f"gpu={_underscored(c.steps.gpu)})"), ()),
        (ch10, literal(f"BATCH = {c.batch_size}"), ()),
        (ch10, literal(f"N_EVAL = {c.n_eval}"), ()),
        (ch10, literal(f"LATENT = {c.latent_dim}"), ()),
        (ch10, literal(f"vae.MLPVAE(latent_dim={c.vae_latent_dim}, hidden=(256,))"), ()),
        (ch10, literal(f"rbm.BernoulliRBM(784, {c.rbm_hidden}, "
                       "generator=torch.Generator().manual_seed(0))"), ()),
        (ch10, literal(f"GIBBS_STEPS = {list(c.gibbs_steps)}"), ()),
        (ch10, literal(f"N_LIK, N_PLL = {c.n_likelihood}, {c.n_pseudo_likelihood}"), ()),
        (ch10, literal(f"for k in {c.iwae_ks}"), ()),
        (ch10, literal(f"torch.set_num_threads({c.cpu_threads})"), ()),
    ]


@pytest.mark.parametrize("chapter,pattern,values", chapter_settings())
def test_sections_use_the_chapters_settings(chapter, pattern, values):
    match = re.search(pattern, chapter_code(chapter))
    found = () if match is None else tuple(float(x) for x in match.groups())
    assert match is not None and found == pytest.approx(values), (
        f"{chapter}.ipynb no longer matches {pattern!r} with {values}: the chapter's settings "
        "changed, so the benchmark no longer reproduces it; update genmodels/bench_chapters.py "
        "(or the chapter) so that the two agree.")


def test_no_notebook_redefines_a_bench_chapters_function():
    """A chapter that defines a function of the same name would duplicate library code
    (tests/test_book_sources.py forbids it); the sections' helpers have names of their own."""
    public = {n for n, o in vars(bench_chapters).items()
              if callable(o) and getattr(o, "__module__", "") == bench_chapters.__name__
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
    docs = {name: bench.load_results(BOOK / "data" / f"bench_{name}.json")
            for name in bench_chapters.SECTIONS}
    for name, doc in docs.items():
        for ref in doc[name]["references"]:
            for token in re.split(r",\s*", ref["source"]):
                token = token.removeprefix("closed form").strip()
                if not token:
                    continue
                known = labels if token.startswith("eq-") else bib
                assert token in known, f"{name}: unknown reference {token!r}"


# ---------------------------------------------------------------------------- the command line


def test_cli_writes_a_chapter_section_with_the_common_header(tmp_path, capsys):
    docs = bench.main(["--only", "gibbs", "--quick", "--data-dir", str(tmp_path),
                       "--device", "cpu"])
    out = tmp_path / "bench_gibbs.json"
    assert f"wrote {out}" in capsys.readouterr().out
    doc = bench.load_results(out)
    assert doc == json.loads(json.dumps(docs["gibbs"]))
    assert doc["section"] == "gibbs" and doc["quick"] is True and doc["seeds"] == [0]
    for key in ("cpu", "cpu_count", "python", "torch", "numpy", "genmodels", "device",
                "load_average_1min_at_start"):
        assert key in doc["machine"], key
    assert "load_average_1min_at_end" in doc
    assert doc["gibbs"]["settings"] == json.loads(json.dumps(vars(bench_chapters.QUICK_GIBBS)))


def test_cli_section_names():
    assert bench._sections("chapters") == list(bench_chapters.SECTIONS)
    assert bench._sections("all") == ["gan", *bench_chapters.SECTIONS]
    assert bench._sections("vae,gan") == ["gan", "vae"]
    with pytest.raises(SystemExit):
        bench._parse_args(["--only", "gibbs,nope"])


# ---------------------------------------------------------------------------- the appendix


def appendix_sections() -> list[str]:
    nb = nbformat.read(APPENDIX, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return re.findall(r'show\("(\w+)"\)', code)


def test_the_appendix_shows_every_section():
    assert sorted(appendix_sections()) == sorted(["gan", *bench_chapters.SECTIONS])


@pytest.mark.parametrize("name", appendix_sections())
def test_appendix_json_exists_with_every_key_the_page_reads(name):
    doc = bench.load_results(BOOK / "data" / f"bench_{name}.json")
    for key in ("schema", "created", "command", "machine", name):
        assert key in doc, f"bench_{name}.json lacks {key!r}"
    # section_html reads every key the page shows; a missing one raises KeyError here.
    html = bench_chapters.section_html(name, doc)
    assert "<table" in html and "Produced" in html
    if name != "gan":  # the chapter sections carry the full header
        assert doc["section"] == name and doc["seeds"] == bench_chapters.seeds_of(doc[name])
        assert doc[name]["chapter"] == bench_chapters.SECTIONS[name].chapter
        assert f"{{doc}}`{doc[name]['chapter']}`" in APPENDIX.read_text(), (
            f"the appendix does not link {doc[name]['chapter']}")


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
    namespace["DATA"] = tmp_path
    with pytest.raises(FileNotFoundError, match="python -m genmodels.bench"):
        namespace["show"]("vae")


def test_section_html_explains_bad_input():
    doc = bench.load_results(BOOK / "data" / "bench_vae.json")
    with pytest.raises(ValueError, match="unknown benchmark section 'nope'"):
        bench_chapters.section_html("nope", doc)
    with pytest.raises(KeyError, match="--only gibbs"):
        bench_chapters.section_html("gibbs", doc)


def test_quick_results_are_flagged():
    doc = bench.load_results(BOOK / "data" / "bench_gibbs.json")
    flagged = "Smoke run" in bench_chapters.section_html("gibbs", doc)
    assert flagged == bool(doc.get("quick"))
