"""The GAN benchmark's tuning search: the same search for every variant, a seed of its own,
its choice, its archive; the published rows and how tables cite them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from genmodels.bench import gan_runs, gan_search
from genmodels.experiments import toy_gan
from genmodels.results import tables

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("dataset", ["ring", "grid"])
def test_every_variant_gets_the_same_search(dataset):
    searches = {c.name: gan_search.first_candidates(c.name, dataset) for c in toy_gan.GAN_CONFIGS}
    names = {v: [c.name for c in cands] for v, cands in searches.items()}
    assert len(set(map(tuple, names.values()))) == 1, names  # same configurations, same order
    assert names["vanilla"] == ["shared", "lr 3e-4", "more critic steps", "paper"]
    for variant, cands in searches.items():
        shared, slow, more_k, paper = cands
        config = toy_gan.config_by_name(variant)
        assert all(c.config.batch_counts_packs == (variant == "pacgan") for c in cands)
        if variant != "pacgan":
            assert shared.config == config
        assert shared.settings == toy_gan.DEFAULT_SETTINGS[dataset]
        assert slow.settings.lr == 3e-4 and slow.settings.steps == shared.settings.steps
        assert more_k.config.k_critic > config.k_critic
        settings = gan_search.PAPER_SETTINGS[variant]
        assert (paper.settings.lr, paper.config.betas, paper.config.k_critic, paper.settings.batch,
                paper.settings.lr_decay) == (settings.lr, settings.betas, settings.k_critic,
                                             settings.batch, False)
        assert paper.settings.steps == shared.settings.steps  # one budget for every variant
        longer = gan_search.longer(paper)
        assert longer.settings.steps == 2 * paper.settings.steps and longer.config == paper.config


def test_the_papers_settings_are_those_the_papers_give():
    wgan = gan_search.PAPER_SETTINGS["wgan_gp"]  # Gulrajani et al. (2017), algorithm 1
    assert (wgan.lr, wgan.betas, wgan.k_critic, wgan.batch) == (1e-4, (0.0, 0.9), 5, 64)
    pac = gan_search.PAPER_SETTINGS["pacgan"]  # PacGAN's code for the 2-D grid
    assert (pac.lr, pac.betas[0], pac.batch) == (1e-4, 0.8, 100)
    assert set(gan_search.PAPER_SETTINGS) == {c.name for c in toy_gan.GAN_CONFIGS}
    assert set(gan_search.SEARCH_ORDER) == set(gan_search.PAPER_SETTINGS)


def test_the_search_seed_is_not_a_reported_seed():
    assert gan_search.SEARCH_SEED not in gan_runs.GanBenchSettings().seeds(0, quick=False)


def test_packing_draws_pack_times_the_batch_when_the_batch_counts_packed_inputs():
    config = gan_search.first_candidates("pacgan", "grid")[0].config
    settings = toy_gan.ToyGanSettings(steps=1, batch=8, n_eval=16, width=4, depth=1)
    seen = []
    D = toy_gan.build_toy_gan(config, settings, "grid")[1]
    original = type(D).forward

    def spy(self, x):
        seen.append(x.shape[0])
        return original(self, x)

    type(D).forward = spy
    try:
        toy_gan.train_toy_gan("grid", config, settings, seed=0, device=torch.device("cpu"))
    finally:
        type(D).forward = original
    assert seen and set(seen) == {4 * 8}  # PacGAN4: 8 packed inputs of 4 samples each


def test_score_weighs_coverage_and_precision_alike():
    assert gan_search.score({"modes_captured": 25, "high_quality_share": 0.6}, "grid") < \
        gan_search.score({"modes_captured": 24, "high_quality_share": 0.93}, "grid")
    assert gan_search.score({"modes_captured": 8, "high_quality_share": 1.0}, "ring") == 2.0


def fake_result(score_of):
    def one_run(dataset, config, settings, seed, device, threads, record_every=None):
        modes, hq = score_of(config, settings)
        return {"seed": seed, "modes_captured": modes, "high_quality_share": hq,
                "reverse_kl": None, "wall_time": 0.1, "trajectory": {"step": [settings.steps]}}
    return one_run


def test_the_search_trains_the_best_again_with_twice_the_steps_and_chooses_by_score(
        tmp_path, monkeypatch):
    def score_of(config, settings):
        if settings.steps == 2 * toy_gan.DEFAULT_SETTINGS["ring"].steps:
            return 8, 0.97  # the longer run of the best
        return (8, 0.9) if config.betas is not None else (7, 0.95)  # the paper's is best

    monkeypatch.setattr(gan_runs, "_one_run", fake_result(score_of))
    monkeypatch.setattr(gan_search, "ARCHIVE", tmp_path / "none.jsonl")
    runs = tmp_path / "runs.jsonl"
    rows = gan_search.run_search(["ring"], ["wgan_gp"], runs, resume=False,
                                 device=torch.device("cpu"), log=None)
    assert [r["name"] for r in rows] == ["shared", "lr 3e-4", "more critic steps", "paper", "longer"]
    assert [r["name"] for r in rows if r["chosen"]] == ["longer"]
    longer_key = json.loads(rows[-1]["key"])
    assert longer_key["config"]["betas"] == [0.0, 0.9] and longer_key["seed"] == gan_search.SEARCH_SEED
    assert len(gan_runs.read_finished_runs(runs)) == 5

    # Resumed, nothing is trained again; the archive's runs count as finished.
    monkeypatch.setattr(gan_runs, "_one_run", lambda *a, **k: pytest.fail("trained again"))
    again = gan_search.run_search(["ring"], ["wgan_gp"], runs, resume=True,
                                  device=torch.device("cpu"), log=None)
    def numbers(rows):
        return [{k: v for k, v in r["result"].items() if k != "from_commit"} for r in rows]

    assert numbers(again) == numbers(rows) and all("from_commit" in r["result"] for r in again)
    archive = tmp_path / "archive.jsonl"
    monkeypatch.setattr(gan_search, "ARCHIVE", archive)
    assert gan_search.archive_runs(runs, archive) == 5
    assert gan_search.archive_runs(runs, archive) == 0  # nothing new
    moved = tmp_path / "elsewhere.jsonl"
    again = gan_search.run_search(["ring"], ["wgan_gp"], moved, resume=True,
                                  device=torch.device("cpu"), log=None)
    assert len(again) == 5


def test_archiving_keeps_what_the_archive_holds(tmp_path):
    archive, runs = tmp_path / "a.jsonl", tmp_path / "r.jsonl"
    result = {"seed": 0, "modes_captured": 1, "high_quality_share": 0.5, "reverse_kl": None,
              "wall_time": 1.0}
    archive.write_text(json.dumps({"key": "k1", "result": result}) + "\n")
    runs.write_text(json.dumps({"key": "k1", "result": {**result, "modes_captured": 7}}) + "\n"
                    + json.dumps({"key": "k2", "result": result}) + "\n")
    assert gan_search.archive_runs(runs, archive) == 1
    kept = gan_runs.read_finished_runs(archive)
    assert set(kept) == {"k1", "k2"} and kept["k1"]["modes_captured"] == 1


def test_published_rows_name_a_variant_and_a_reference_of_the_book():
    bib = (ROOT / "references.bib").read_text()
    names = {c.name for c in toy_gan.GAN_CONFIGS}
    for row in toy_gan.PUBLISHED:
        assert row["variant"] is None or row["variant"] in names, row
        assert re.search(r"@\w+\{" + row["bibkey"] + ",", bib), row["bibkey"]
        assert tables.citation_of(row) == row["citation"] and "(" in row["citation"]
    wgan = {(r["dataset"], r["modes_captured"], r["high_quality_share"])
            for r in toy_gan.PUBLISHED if r["method"] == "WGAN-GP"}
    assert wgan == {("ring", 6.8, 0.596), ("grid", 24.2, 0.287)}  # Elfeki et al. (2019), table 1


def test_tables_cite_authors_not_bibtex_keys():
    old = {"dataset": "ring", "method": "PacGAN2", "modes_captured": 7.9,
           "high_quality_share": 0.956, "source": "lin2018pacgan, table 2"}
    assert tables.citation_of(old) == "Lin et al. (2018), table 2"
    section = {"results": [], "published": [old], "seeds": [0], "settings": {}}
    text = tables.format_table_text(tables.gan_tables(section)[0])
    assert "Lin et al. (2018)" in text and "lin2018pacgan" not in text


def test_the_final_runs_train_the_chosen_configuration_on_the_reported_seeds(tmp_path, monkeypatch):
    def score_of(config, settings):
        if settings.lr != 3e-4:
            return 8, 0.5
        return (8, 1.0) if settings.steps > toy_gan.DEFAULT_SETTINGS["ring"].steps else (8, 0.99)

    monkeypatch.setattr(gan_runs, "_one_run", fake_result(score_of))
    monkeypatch.setattr(gan_search, "ARCHIVE", tmp_path / "none.jsonl")
    monkeypatch.setattr(gan_search, "shipped_runs", dict)
    runs = tmp_path / "runs.jsonl"
    assert gan_search.run_final(["ring"], ["vanilla"], [0, 1], runs, torch.device("cpu"), None) == []
    gan_search.run_search(["ring"], ["vanilla"], runs, resume=False, device=torch.device("cpu"), log=None)
    chosen = gan_search.chosen_candidate("vanilla", "ring", gan_runs.read_finished_runs(runs))
    assert chosen.name == "longer" and chosen.settings.lr == 3e-4
    rows = gan_search.run_final(["ring"], ["vanilla"], [0, 1], runs, torch.device("cpu"), None)
    assert [(r["name"], [s["seed"] for s in r["per_seed"]]) for r in rows] == [("longer", [0, 1])]
    trained = gan_runs.read_finished_runs(runs)
    assert gan_runs.run_key("ring", chosen.config, chosen.settings, 1) in trained


def test_the_shipped_benchmark_supplies_the_runs_of_the_shared_settings():
    shipped = gan_search.shipped_runs()
    settings = gan_runs.GanBenchSettings().toy_gan_settings(quick=False)
    for variant in ("vanilla", "minibatch_std", "wgan_gp"):
        for seed in range(5):
            key = gan_runs.run_key("grid", toy_gan.config_by_name(variant), settings["grid"], seed)
            assert shipped[key]["seed"] == seed
    # PacGAN's shipped runs counted the batch in samples: not the search's packing.
    searched = gan_search.first_candidates("pacgan", "grid")[0]
    assert gan_runs.run_key("grid", searched.config, searched.settings, 0) not in shipped


def test_the_summary_lists_every_finished_search_and_its_choice(tmp_path, monkeypatch):
    def score_of(config, settings):
        return (8, 0.9) if config.k_critic > 1 else (8, 0.5)  # "more critic steps", then longer

    monkeypatch.setattr(gan_runs, "_one_run", fake_result(score_of))
    monkeypatch.setattr(gan_search, "ARCHIVE", tmp_path / "none.jsonl")
    runs = tmp_path / "runs.jsonl"
    gan_search.run_search(["ring"], ["non_saturating"], runs, resume=False,
                          device=torch.device("cpu"), log=None)
    summary = gan_search.summary(gan_runs.read_finished_runs(runs))
    rows = summary["rows"]
    assert [r["name"] for r in rows] == ["shared", "lr 3e-4", "more critic steps", "paper", "longer"]
    assert [r["name"] for r in rows if r["chosen"]] == ["more critic steps"]  # a tie: the first
    assert rows[3]["lr_decay"] is False and rows[3]["samples_per_step"] == 100
    assert rows[4]["steps"] == 2 * rows[2]["steps"] and rows[4]["k_critic"] == 2
    assert ["ring", "wgan_gp"] in summary["unfinished"] and ["grid", "non_saturating"] in summary["unfinished"]
    table, papers = tables.gan_search_tables(summary)
    assert len(table.rows) == 5 and table.rows[2][-1] == "✓" and table.rows[0][3] == "0.001 → 0"
    assert len(papers.rows) == len(toy_gan.GAN_CONFIGS)


def test_publish_writes_a_result_the_appendix_can_render(tmp_path, monkeypatch, capsys):
    from genmodels import results

    monkeypatch.setattr(gan_search, "ARCHIVE", tmp_path / "none.jsonl")
    monkeypatch.setattr(gan_search, "shipped_runs", dict)
    out = tmp_path / "bench_gan_search.json"
    monkeypatch.setattr(results, "result_path", lambda name: out)
    assert gan_search.main(["publish", "--runs-file", str(tmp_path / "runs.jsonl")]) == 0
    doc = results.load_results(out)
    assert doc["gan_search"]["rows"] == [] and doc["gan_search"]["long_runs"] == []
    assert len(doc["gan_search"]["unfinished"]) == 14 + len(gan_search.LONG_RUNS)
    html = tables.section_html("gan_search", doc)
    assert "every configuration on seed 100" in html and "settings and source" in html
    assert "Not finished yet" in html and "<li>grid pacgan</li>" in html
    assert "no published result" not in html  # the benchmark's table carries the published rows
    assert "Seeds: not recorded" not in html
    printed = capsys.readouterr().out  # the final table, as text, for whoever published it
    assert "published: PacGAN2" in printed and "Lin et al. (2018)" in printed


def test_a_long_run_is_a_searched_configuration_with_more_steps_and_a_dense_trajectory():
    paper = gan_search.first_candidates("wgan_gp", "ring")[3]
    long = gan_search.long_candidate("ring", "wgan_gp", "paper", 50_000)
    assert long.config == paper.config and long.settings == paper.settings.__class__(
        **{**paper.settings.__dict__, "steps": 50_000})
    assert gan_search.long_record_every(long) == 50_000 // gan_search.LONG_POINTS
    with pytest.raises(ValueError, match="'fastest' is not one of the search's first four"):
        gan_search.long_candidate("ring", "wgan_gp", "fastest", 1000)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        gan_search.long_candidate("ring", "wgan_gp", "paper", 0)
    for dataset, variant, name, steps in gan_search.LONG_RUNS:  # each names a real configuration
        assert gan_search.long_candidate(dataset, variant, name, steps).settings.steps == steps


def test_long_runs_are_trained_once_and_shown_as_metrics_against_steps(tmp_path, monkeypatch):
    monkeypatch.setattr(gan_search, "ARCHIVE", tmp_path / "none.jsonl")
    seen = []

    def one_run(dataset, config, settings, seed, device, threads, record_every=None):
        seen.append((settings.steps, record_every))
        steps = list(range(record_every, settings.steps + 1, record_every))
        return {"seed": seed, "modes_captured": 5, "high_quality_share": 0.25, "reverse_kl": None,
                "wall_time": 2.0, "trajectory": {"step": steps, "modes_captured": [5] * len(steps),
                                                 "high_quality_share": [0.25] * len(steps)}}

    monkeypatch.setattr(gan_runs, "_one_run", one_run)
    monkeypatch.setattr(gan_search, "LONG_RUNS", (("ring", "wgan_gp", "paper", 100),))
    runs = tmp_path / "runs.jsonl"
    rows = gan_search.run_long(gan_search.LONG_RUNS, runs, torch.device("cpu"), log=None)
    assert seen == [(100, 10)] and rows[0]["name"] == "paper, 100 steps"
    gan_search.run_long(gan_search.LONG_RUNS, runs, torch.device("cpu"), log=None)
    assert len(seen) == 1  # finished: not trained again
    summary = gan_search.summary(gan_runs.read_finished_runs(runs))
    (long,) = summary["long_runs"]
    assert (long["steps"], long["modes_captured"], long["n_modes"]) == (100, 5, 8)
    assert not any(len(u) == 3 for u in summary["unfinished"])
    long_table = next(t for t in tables.gan_search_tables(summary) if "long runs" in t.caption)
    assert len(long_table.rows) == 10 and long_table.rows[-1][3:] == ["100", "5 / 8", "25.0"]


def test_the_summary_holds_the_final_table_once_every_reported_seed_is_there(tmp_path, monkeypatch):
    def score_of(config, settings):
        return (8, 0.9) if settings.lr == 3e-4 else (8, 0.5)  # "lr 3e-4", then its longer run

    monkeypatch.setattr(gan_runs, "_one_run", fake_result(score_of))
    monkeypatch.setattr(gan_search, "ARCHIVE", tmp_path / "none.jsonl")
    monkeypatch.setattr(gan_search, "shipped_runs", dict)
    runs = tmp_path / "runs.jsonl"
    gan_search.run_search(["ring"], ["vanilla"], runs, resume=False, device=torch.device("cpu"), log=None)
    summary = gan_search.summary(gan_runs.read_finished_runs(runs), ["ring"], ["vanilla"])
    assert summary["results"] == [] and ["ring", "vanilla", "final runs (seeds 0–4)"] in summary["unfinished"]
    gan_search.run_final(["ring"], ["vanilla"], gan_search.FINAL_SEEDS, runs, torch.device("cpu"), None)
    summary = gan_search.summary(gan_runs.read_finished_runs(runs), ["ring"], ["vanilla"])
    (row,) = summary["results"]
    assert (row["config"], row["configuration"], row["lr"], row["steps"]) == (
        "vanilla", "lr 3e-4", 3e-4, toy_gan.DEFAULT_SETTINGS["ring"].steps)
    assert [s["seed"] for s in row["per_seed"]] == list(gan_search.FINAL_SEEDS)
    assert row["mean"]["high_quality_share"] == pytest.approx(0.9) and row["std"]["modes_captured"] == 0
    assert not any(u[:2] == ["ring", "vanilla"] for u in summary["unfinished"])
    assert summary["published"] == [dict(p) for p in toy_gan.PUBLISHED]
    final_table = tables.gan_search_tables(summary)[0]
    assert final_table.caption.startswith("each variant's chosen configuration")
    assert final_table.rows[0][1] == "vanilla GAN: lr 3e-4 (lr 0.0003 → 0, 1 D step, 6,000 steps)"
    assert final_table.rows[0][2] == "8.0 ± 0.0 / 8" and final_table.rows[0][3] == "90.0 ± 0.0"
    assert any(r[1] == "published: PacGAN2" for r in final_table.rows)


def _final_row(dataset, config, modes, hq, n_modes, steps=6000, configuration="longer"):
    return {"dataset": dataset, "config": config, "label": f"{config} (shared label)", "n_modes": n_modes,
            "per_seed": [{"seed": i, "modes_captured": m, "high_quality_share": q}
                         for i, (m, q) in enumerate(zip(modes, hq, strict=True))],
            "mean": {"modes_captured": sum(modes) / len(modes), "high_quality_share": sum(hq) / len(hq),
                     "reverse_kl": None, "wall_time": 1.0},
            "std": {"modes_captured": 0.0, "high_quality_share": 0.0, "reverse_kl": None, "wall_time": 0.0},
            "configuration": configuration, "lr": 1e-3, "lr_decay": True, "betas": [0.5, 0.999],
            "k_critic": 2, "samples_per_step": 256, "steps": steps}


def test_the_search_numbers_are_computed_from_the_final_rows_the_published_rows_and_the_long_runs():
    section = {
        "seed": 100, "seeds": [0, 1, 100], "final_seeds": [0, 1], "wall_time": 7200.0,
        "results": [_final_row("ring", "vanilla", (8, 8), (0.96, 0.98), 8, steps=12000),
                    _final_row("ring", "spectral_norm", (8, 2), (0.6, 0.002), 8),
                    _final_row("ring", "pacgan", (8, 8), (0.95, 0.97), 8)],
        "published": [{"dataset": "ring", "method": "VEEGAN", "variant": None, "modes_captured": 8.0,
                       "high_quality_share": 0.529},
                      {"dataset": "ring", "method": "PacGAN2", "variant": "pacgan", "modes_captured": 7.9,
                       "high_quality_share": 0.956}],
        "rows": [{"dataset": "grid", "variant": "vanilla", "chosen": True, "modes_captured": 25,
                  "high_quality_share": 0.971, "lr": 3e-4, "steps": 20000},
                 {"dataset": "grid", "variant": "vanilla", "chosen": False, "modes_captured": 10,
                  "high_quality_share": 0.5, "lr": 1e-3, "steps": 10000}],
        "long_runs": [{"dataset": "grid", "variant": "wgan_gp", "steps": 50000, "n_modes": 25,
                       "trajectory": {"step": [25000, 50000], "modes_captured": [3, 18],
                                      "high_quality_share": [0.064, 0.01]}}],
    }
    n = tables.gan_search_numbers(section)
    # two variants cover every mode in every seed; their mean shares are 97 % and 96 %
    assert n["ring_full_variants"] == 2 and (n["ring_full_hq_lo"], n["ring_full_hq_hi"]) == pytest.approx((96, 97))
    assert n["ring_spectral_norm_seeds_all_modes"] == 1 and n["ring_spectral_norm_modes_min"] == 2
    assert n["ring_spectral_norm_hq_min"] == pytest.approx(0.2) and n["ring_vanilla_steps"] == 12000
    assert n["ring_steps_max"] == 12000 and n["ring_pacgan_k_critic"] == 2
    assert (n["ring_pacgan_published_modes"], n["ring_pacgan_published_hq"]) == pytest.approx((7.9, 95.6))
    assert not any(k.startswith("ring_None") for k in n)  # VEEGAN is no variant of ours
    assert (n["grid_wgan_gp_long_modes_min"], n["grid_wgan_gp_long_modes_max"]) == (3, 18)
    assert n["grid_wgan_gp_long_hq_max"] == pytest.approx(6.4) and n["grid_wgan_gp_long_steps"] == 50000
    assert n["search_hours"] == 2
    # the search's seed: only the chosen configuration's result
    assert (n["grid_vanilla_search_modes"], n["grid_vanilla_search_steps"]) == (25, 20000)
    assert (n["grid_vanilla_search_hq"], n["grid_vanilla_search_lr"]) == pytest.approx((97.1, 3e-4))
    shared = {"settings": {"ring": {"steps": 6000}},
              "results": [_final_row("ring", "pacgan", (8, 8), (0.9, 0.8), 8)]}
    both = tables.remedies_numbers(section, shared)
    assert both["shared_ring_pacgan_hq"] == pytest.approx(85) and both["ring_pacgan_hq"] == pytest.approx(96)
    assert both["shared_ring_steps"] == 6000


def test_the_search_final_section_labels_each_row_by_its_chosen_configuration():
    section = {"seed": 100, "seeds": [0, 1, 100], "final_seeds": [0, 1], "published": [],
               "results": [_final_row("ring", "vanilla", (8, 8), (0.96, 0.98), 8)]}
    short = tables.gan_search_final_section(section, short=True)
    assert short["seeds"] == [0, 1] and short["results"][0]["label"] == "vanilla: longer"
    assert section["results"][0]["label"] == "vanilla (shared label)"  # the section is not changed
    final = tables.gan_search_tables({**section, "rows": [], "paper_settings": {}, "rule": "best"})[0]
    assert final.rows[0][1] == "vanilla: longer (lr 0.001 → 0, 2 D steps, 6,000 steps)"
    assert final.rows[0][2] == "8.0 ± 0.0 / 8" and "seeds [0, 1]" in final.caption
