"""The benchmark's results as tables: the one place that formats them, as plain text for the
command line and chapter 10, as HTML for the results appendix.

``python -m genmodels.bench`` writes one JSON document per section (see
:mod:`genmodels.bench` and :mod:`genmodels.bench.sections`). One ``*_tables`` function per
section (:data:`TABLES`) turns its dict into :class:`Table` objects; then
:func:`format_section_text` prints them (:func:`format_table_text` formats one table) and
:func:`section_html` renders them for the results appendix (``book/appendix_results.ipynb``) with their provenance (machine,
versions, seeds, load) and the references their numbers are compared with.
:func:`remedies_numbers` (:func:`gan_search_numbers`, :func:`gan_numbers`) and
:func:`glue_numbers` give chapter 10's text the numbers it quotes.
Nothing here runs a model.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

__all__ = [
    "TABLES",
    "Table",
    "comparison_tables",
    "final_label",
    "format_section_text",
    "format_table_text",
    "gan_numbers",
    "gan_search_final_section",
    "gan_search_numbers",
    "gan_search_tables",
    "gan_tables",
    "glue_numbers",
    "gibbs_tables",
    "image_gan_tables",
    "provenance_text",
    "rbm_tables",
    "remedies_numbers",
    "section_html",
    "table_html",
    "vae_tables",
]


class Table(NamedTuple):
    """A table of strings: a caption, the column names and the rows."""

    caption: str
    header: list[str]
    rows: list[list[str]]


def _pm(mean: float, se: float | None, digits: int = 2) -> str:
    return f"{mean:.{digits}f}" if se is None else f"{mean:.{digits}f} ± {se:.{digits}f}"


def gibbs_tables(section: Mapping[str, Any]) -> list[Table]:
    """Measured lag-1 autocorrelation, τ and ESS per update beside their closed forms."""
    rows = []
    for r in section["rows"]:
        m, c = r["measured"], r["closed_form"]
        rows.append([f"{r['rho']:.2f}", _pm(m["lag1"], m["lag1_se"], 4), f"{c['lag1']:.4f}",
                     _pm(m["tau"], m.get("tau_se")), f"{c['tau']:.2f}",
                     f"{m['ess_per_update_systematic']:.4f}", f"{c['ess_per_update']:.4f}",
                     f"{m['ess_per_update_random']:.4f}"])
    s = section["settings"]
    return [Table(f"{s['n_chains']} chains of {s['n_sweeps']} sweeps per ρ (burn-in "
                  f"{s['burn_in']}); measured beside the closed form",
                  ["ρ", "lag-1 autocorr. ± s.e.", "ρ² (closed form)", "τ ± s.e.", "(1+ρ²)/(1−ρ²)",
                   "ESS / update (systematic)", "(1−ρ²)/(2(1+ρ²))", "ESS / update (random scan)"],
                  rows)]


def rbm_tables(section: Mapping[str, Any]) -> list[Table]:
    """Small RBMs by training rule (exact likelihood), then the large RBMs."""
    s = section["settings"]
    small = [[r["rule"], f"{r['test_log_likelihood']:.2f}", f"{r['pseudo_log_likelihood_train']:.2f}",
              f"{r['reconstruction_error_train']:.4f}", f"{r['wall_time']:.1f}"]
             for r in section["small"]]
    large = [[r["rule"], f"{r['free_energy_test']:.2f}", f"{r['free_energy_samples']:.2f}",
              f"{r['test_pseudo_log_likelihood']:.2f}", f"{r['wall_time']:.1f}"]
             for r in section["large"]]
    return [
        Table(f"H = {s['small_hidden']} hidden units, {s['epochs']} epochs on {s['n_train']} "
              f"digits; exact log-likelihood of {s['n_test']} test digits",
              ["rule", "exact test log-likelihood (nats)", "pseudo-log-likelihood (train, nats)",
               "reconstruction error (train)", "train wall (s)"], small),
        Table(f"H = {s['large_hidden']} hidden units; {s['n_chain_samples']} chains of "
              f"{s['chain_steps']} Gibbs steps from noise",
              ["rule", "mean free energy, test digits", "mean free energy, long-chain samples",
               "test pseudo-log-likelihood (nats)", "train wall (s)"], large),
    ]


def vae_tables(section: Mapping[str, Any]) -> list[Table]:
    """The VAE's time, bounds, units and Fréchet distance, with what each compares with."""
    fd = section["frechet"]
    elbo = section["test_elbo"]
    rows = [
        ["seconds per epoch (wall)", f"{section['seconds_per_epoch']:.1f}",
         f"{section['epochs']} epochs of {section['n_train']} images, batch {section['batch_size']}"],
        ["test ELBO (nats / image)", f"{elbo:.2f}",
         f"{section['n_test']} test images; reconstruction {section['test_reconstruction']:.2f}, "
         f"KL {section['test_kl']:.2f}"],
        ["train ELBO (nats / image)", f"{section['train_elbo']:.2f}",
         f"first {section['n_train_elbo']} training images (over-fitting check)"],
    ]
    for k, bound in section["iwae"].items():
        rows.append([f"IWAE bound, k = {k} (nats / image)",
                     _pm(bound["mean"], bound["standard_error"]),
                     f"first {section['n_iwae']} test images; must not decrease with k"])
    n_latent = len(section["kl_per_dimension"])
    rows += [
        ["active units", f"{section['active_units']} / {n_latent}",
         f"KL per dimension {min(section['kl_per_dimension']):.2f}–"
         f"{max(section['kl_per_dimension']):.2f} nats"],
        ["Fréchet distance, prior samples to test", f"{fd['prior_samples']:.1f}",
         f"{fd['n']} decoded z ~ N(0, I) against {fd['n']} test images"],
        ["Fréchet distance, real training images to test", f"{fd['real_train_images']:.1f}",
         "the floor (reference point)"],
    ]
    return [Table(section["model"], ["quantity", "ours", "compared with / notes"], rows)]


def image_gan_tables(section: Mapping[str, Any]) -> list[Table]:
    """The GANs' final Fréchet distance among the reference image sets, and their cost."""
    n_eval = section["settings"]["n_eval"]
    rows = [[name, f"{value:.1f}", "reference point", "", "", ""]
            for name, value in section["reference_fd"].items()]
    over = []
    for run in section["runs"]:
        tail = run["last_steps_mean"]
        rows.append([f"{run['model']} ({run['steps']} steps)", f"{run['final_fd']:.1f}",
                     f"{tail['acc_real']:.2f} / {tail['acc_fake']:.2f}",
                     f"{run['train_time']['wall']:.1f}", f"{run['train_time']['cpu']:.1f}",
                     f"{run['cpu_ms_per_step']:.0f}"])
        trace = run["frechet_over_training"]
        over.append([run["model"], ", ".join(f"{s}: {v:.0f}" for s, v in
                                              zip(trace["step"], trace["fd"], strict=True))])
    rows.sort(key=lambda r: float(r[1]))
    return [
        Table(f"Fréchet distance of {n_eval} images to the {10_000} test images (lower is better); "
              "D accuracy: mean over the last steps",
              ["images", "FD to test", "D accuracy real / fake", "train wall (s)",
               "train CPU (s)", "CPU ms / step"], rows),
        Table("Fréchet distance of the same fixed z over training", ["model", "step: FD"], over),
    ]


def comparison_tables(section: Mapping[str, Any]) -> list[Table]:
    """Chapter 11's summary table and the RBM's sample quality against Gibbs steps."""
    rows = []
    for name, m in section["models"].items():
        lik = m["likelihood"]
        if "iwae" in lik:
            k = max(lik["iwae"], key=int)
            lik_text = f"≥ {lik['iwae'][k]:.1f} (IWAE, k = {k}); ELBO {lik['elbo']:.1f}"
        elif "pseudo_log_likelihood" in lik:
            lik_text = f"needs log Z (PLL {lik['pseudo_log_likelihood']:.1f}, not comparable)"
        else:
            lik_text = lik["kind"]
        rows.append([name, f"{m['fd_binary']:.2f}", f"{m['fd_mean']:.2f}", f"{m['covered']}/10",
                     f"{m['kl_to_uniform']:.2f}", lik_text, f"{m['train_time']['wall']:.1f}",
                     f"{m['train_time']['cpu']:.1f}", f"{m['ms_per_1000_samples']:.1f}"])
    real = section["real_binarised_train"]
    rows.append(["real (binarised train)", f"{real['fd_binary']:.2f}", "", f"{real['covered']}/10",
                 f"{real['kl_to_uniform']:.2f}", "", "", "", ""])
    s = section["settings"]
    gibbs_rows = [[str(r["steps"]), f"{r['fd']:.2f}", f"{r['covered']}/10",
                   f"{r['kl_to_uniform']:.2f}"] for r in section["gibbs_steps"]]
    return [
        Table(f"{s['steps']} updates of {s['batch_size']} binarised images per model; "
              f"{s['n_eval']} samples per model against {s['n_eval']} binarised test images",
              ["model", "FD (binary draws)", "FD (mean images)", "classes covered",
               "KL to uniform (nats)", "test log-likelihood (nats / image)", "train wall (s)",
               "train CPU (s)", "ms per 1000 samples"], rows),
        Table("RBM: binary states of the chains after t Gibbs steps from noise",
              ["Gibbs steps", "FD", "classes covered", "KL to uniform (nats)"], gibbs_rows),
    ]


def citation_of(published: Mapping[str, Any]) -> str:
    """How a table cites a published row: its ``citation`` ("Lin et al. (2018), table 2");
    rows recorded before citations were kept give their BibTeX ``source`` key as an
    author–year citation when the key is one of :data:`CITATIONS`."""
    if published.get("citation"):
        return str(published["citation"])
    source = str(published.get("source", ""))
    key, _, rest = source.partition(" ")
    key = key.rstrip(",")
    if key in CITATIONS:
        return CITATIONS[key] + source[len(key):].replace("lin2018pacgan", CITATIONS["lin2018pacgan"])
    return source


# Author–year citations of the BibTeX keys the benchmark's published rows use.
CITATIONS = {"srivastava2017veegan": "Srivastava et al. (2017)", "lin2018pacgan": "Lin et al. (2018)",
             "elfeki2019gdpp": "Elfeki et al. (2019)"}


def gan_tables(section: Mapping[str, Any]) -> list[Table]:
    """The mode-collapse section (chapter 10): mean ± std over seeds, then the published rows."""
    rows = []
    for r in section["results"]:
        m, s = r["mean"], r["std"]
        rkl = "∞" if m["reverse_kl"] is None else f"{m['reverse_kl']:.3f}"
        rows.append([r["dataset"], r["label"],
                     f"{m['modes_captured']:.1f} ± {s['modes_captured']:.1f} / {r['n_modes']}",
                     f"{100 * m['high_quality_share']:.1f} ± {100 * s['high_quality_share']:.1f}",
                     rkl, f"{m['wall_time']:.1f}", ""])
    for p in section["published"]:
        rows.append([p["dataset"], f"published: {p['method']}", f"{p['modes_captured']:.1f}",
                     f"{100 * p['high_quality_share']:.1f}", "", "", citation_of(p)])
    settings_rows = []
    for dataset, st in section.get("settings", {}).items():
        d_width = st.get("d_width") or st["width"]
        settings_rows.append([
            dataset, f"{st['steps']:,}", str(st["batch"]), f"{st['lr']:g} → 0 (linear)",
            f"{st['depth']} × {st['width']}", f"{st['depth']} × {d_width}", str(st["latent_dim"]),
        ])
    return [Table(f"mean ± standard deviation over seeds {list(section['seeds'])}",
                  ["data", "variant", "modes captured", "high quality (%)", "reverse KL",
                   "s / run", "source"], rows),
            Table("training settings of every variant (WGAN-GP: Adam β = (0.5, 0.9))",
                  ["data", "steps", "batch", "learning rate", "generator layers × units",
                   "discriminator layers × units", "latent dimensions"], settings_rows)]


def _per_row_numbers(rows: list[Mapping[str, Any]]) -> dict[str, float]:
    """For each row (data set ``d``, variant ``v``) of a GAN table: ``d_v_modes`` and ``d_v_hq``
    (means over the seeds; the high-quality share in %), ``d_v_modes_min``/``_max`` and
    ``d_v_hq_min``/``_max`` (over the seeds) and ``d_v_seeds_all_modes`` (how many seeds
    capture every mode)."""
    numbers: dict[str, float] = {}
    for r in rows:
        key = f"{r['dataset']}_{r['config']}"
        modes = [float(s["modes_captured"]) for s in r["per_seed"]]
        hq = [100 * s["high_quality_share"] for s in r["per_seed"]]
        numbers[f"{key}_modes"] = float(r["mean"]["modes_captured"])
        numbers[f"{key}_hq"] = 100 * r["mean"]["high_quality_share"]
        numbers[f"{key}_modes_min"], numbers[f"{key}_modes_max"] = min(modes), max(modes)
        numbers[f"{key}_hq_min"], numbers[f"{key}_hq_max"] = min(hq), max(hq)
        if "n_modes" in r:
            numbers[f"{key}_seeds_all_modes"] = float(sum(m == r["n_modes"] for m in modes))
    return numbers


def gan_numbers(section: Mapping[str, Any]) -> dict[str, float]:
    """The numbers chapter 10's text quotes from the GAN section, by name.

    For each data set ``d`` and variant ``v``: ``d_v_modes`` and ``d_v_hq`` (means over the
    seeds; the high-quality share in %), ``d_v_modes_min``/``_max`` and ``d_v_hq_min``/``_max``
    (over the seeds), ``d_v_seeds_all_modes``; for each data set, ``d_steps`` (training steps
    per run) and ``d_hq_lo``/``d_hq_hi``, the range of the mean high-quality share (%) over
    the variants of the Jensen–Shannon game without a Lipschitz constraint (all but WGAN-GP
    and spectral normalisation) — the ones that learn at this budget.
    """
    numbers = _per_row_numbers(section["results"])
    for dataset, settings in section["settings"].items():
        numbers[f"{dataset}_steps"] = float(settings["steps"])
        js = [100 * r["mean"]["high_quality_share"] for r in section["results"]
              if r["dataset"] == dataset and r["config"] not in ("wgan_gp", "spectral_norm")]
        if js:
            numbers[f"{dataset}_hq_lo"], numbers[f"{dataset}_hq_hi"] = min(js), max(js)
    return numbers


def gan_search_numbers(section: Mapping[str, Any]) -> dict[str, float]:
    """The numbers chapter 10's text quotes from the tuning search (``gan_search``), by name.

    For each final row (data set ``d``, variant ``v``, its chosen configuration on the
    reported seeds): the numbers of :func:`gan_numbers` for one row, and ``d_v_steps``,
    ``d_v_lr`` and ``d_v_k_critic`` (its configuration). For each published row of a variant:
    ``d_v_published_modes`` and ``d_v_published_hq`` (%). For each variant's chosen configuration
    on the search's seed: ``d_v_search_modes``, ``d_v_search_hq`` (%), ``d_v_search_lr`` and
    ``d_v_search_steps``. For each long run:
    ``d_v_long_steps``, ``d_v_long_modes_min``/``_max`` and ``d_v_long_hq_min``/``_max`` (%)
    over its recorded points. For each data set, ``d_full_variants``: how many variants capture
    every mode in every seed, and ``d_full_hq_lo``/``_hi``, the range of their mean
    high-quality shares (%), and ``d_steps_max``, the longest budget of its final rows.
    ``search_hours``: the training time of every run of the search.
    """
    numbers = _per_row_numbers(section["results"])
    for dataset in sorted({r["dataset"] for r in section["results"]}):
        full = [100 * r["mean"]["high_quality_share"] for r in section["results"]
                if r["dataset"] == dataset and all(s["modes_captured"] == r["n_modes"] for s in r["per_seed"])]
        numbers[f"{dataset}_full_variants"] = float(len(full))
        numbers[f"{dataset}_steps_max"] = float(max(r["steps"] for r in section["results"]
                                                    if r["dataset"] == dataset))
        if full:
            numbers[f"{dataset}_full_hq_lo"], numbers[f"{dataset}_full_hq_hi"] = min(full), max(full)
    for r in section["results"]:
        key = f"{r['dataset']}_{r['config']}"
        numbers[f"{key}_steps"] = float(r["steps"])
        numbers[f"{key}_lr"] = float(r["lr"])
        numbers[f"{key}_k_critic"] = float(r["k_critic"])
    for r in section.get("rows", []):
        if r["chosen"]:
            key = f"{r['dataset']}_{r['variant']}_search"
            numbers[f"{key}_modes"] = float(r["modes_captured"])
            numbers[f"{key}_hq"] = 100 * r["high_quality_share"]
            numbers[f"{key}_lr"] = float(r["lr"])
            numbers[f"{key}_steps"] = float(r["steps"])
    for p in section["published"]:
        if p.get("variant"):
            key = f"{p['dataset']}_{p['variant']}_published"
            numbers[f"{key}_modes"] = float(p["modes_captured"])
            numbers[f"{key}_hq"] = 100 * p["high_quality_share"]
    for r in section.get("long_runs", []):
        key = f"{r['dataset']}_{r['variant']}_long"
        t = r["trajectory"]
        numbers[f"{key}_steps"] = float(r["steps"])
        numbers[f"{key}_modes_min"] = float(min(t["modes_captured"]))
        numbers[f"{key}_modes_max"] = float(max(t["modes_captured"]))
        numbers[f"{key}_hq_min"] = 100 * min(t["high_quality_share"])
        numbers[f"{key}_hq_max"] = 100 * max(t["high_quality_share"])
    numbers["search_hours"] = section["wall_time"] / 3600
    return numbers


def remedies_numbers(search: Mapping[str, Any], shared: Mapping[str, Any]) -> dict[str, float]:
    """Chapter 10's numbers: the tuned variants' (:func:`gan_search_numbers` of ``search``)
    and, prefixed ``shared_``, the same variants' at the plain GANs' shared settings
    (:func:`gan_numbers` of the benchmark's ``shared`` GAN section)."""
    return {**gan_search_numbers(search), **{f"shared_{k}": v for k, v in gan_numbers(shared).items()}}


def glue_numbers(numbers: Mapping[str, float]) -> dict[str, float]:
    """Glue each number for the book's ``{glue:text}`name:.1f``` roles (myst-nb) and return
    them.

    When the notebook runs outside the book's environment (no ``myst_nb``, e.g. on Colab)
    nothing is glued; the numbers are still returned, and the chapter prints them.
    """
    try:
        from myst_nb import glue
    except ImportError:
        return dict(numbers)
    for name, value in numbers.items():
        glue(name, value, display=False)
    return dict(numbers)


def final_label(row: Mapping[str, Any], short: bool = False) -> str:
    """A final row's variant with its chosen configuration and the settings that differ
    between configurations, e.g. ``+ packing: longer (lr 0.001 → 0, 2 D steps, 12,000 steps)``;
    ``short``: the variant and the configuration's name only (``+ packing: longer``)."""
    variant = row["label"].split(" (")[0]  # the label's settings are those of the shared configuration
    if short:
        return f"{variant}: {row['configuration']}"
    lr = f"{row['lr']:g}" + (" → 0" if row["lr_decay"] else " constant")
    steps = "1 D step" if row["k_critic"] == 1 else f"{row['k_critic']} D steps"
    return f"{variant}: {row['configuration']} (lr {lr}, {steps}, {row['steps']:,} steps)"


def gan_search_final_section(section: Mapping[str, Any], short: bool = False) -> dict[str, Any]:
    """The search's final rows as a benchmark GAN section (for :func:`gan_tables` and
    :func:`genmodels.show.plot.mode_benchmark`): its seeds the reported ones, each row
    labelled by :func:`final_label`."""
    return {**section, "seeds": section.get("final_seeds", section["seeds"]),
            "results": [{**r, "label": final_label(r, short)} for r in section["results"]]}


def gan_search_tables(section: Mapping[str, Any]) -> list[Table]:
    """The GAN variants' tuning search: each variant's chosen configuration on the reported
    seeds beside the published rows (when its final runs are all there, in the format of
    :func:`gan_tables`); every configuration tried on the search's seed, with its settings
    and result, the chosen one marked; the long runs' metrics against steps (when there are
    any); then the papers' settings and sources."""
    rows = []
    for r in section["rows"]:
        lr = f"{r['lr']:g}" + (" → 0" if r["lr_decay"] else " constant")
        rows.append([r["dataset"], r["variant"], r["name"], lr,
                     f"({r['betas'][0]:g}, {r['betas'][1]:g})", str(r["k_critic"]),
                     f"{r['samples_per_step']}", f"{r['steps']:,}",
                     f"{r['modes_captured']} / {r['n_modes']}",
                     f"{100 * r['high_quality_share']:.1f}", "✓" if r["chosen"] else ""])
    papers = [[v, s] for v, s in section["paper_settings"].items()]
    long_rows = [[r["dataset"], r["variant"], r["name"], f"{step:,.0f}", f"{modes:.0f} / {r['n_modes']}",
                  f"{100 * hq:.1f}"]
                 for r in section.get("long_runs", [])
                 for step, modes, hq in zip(r["trajectory"].get("step", []),
                                            r["trajectory"].get("modes_captured", []),
                                            r["trajectory"].get("high_quality_share", []),
                                            strict=True)]
    long_table = ([Table(f"long runs on seed {section['seed']}: the metrics against steps",
                         ["data", "variant", "configuration", "step", "modes", "high quality (%)"],
                         long_rows)] if long_rows else [])
    finals = []
    if section.get("results"):
        main = gan_tables(gan_search_final_section(section))[0]
        finals = [main._replace(caption="each variant's chosen configuration — " + main.caption)]
    return [*finals,
            Table(f"every configuration on seed {section['seed']} (chosen: {section['rule']})",
                  ["data", "variant", "configuration", "learning rate", "Adam β", "critic steps",
                   "real samples / step", "steps", "modes", "high quality (%)", "chosen"], rows),
            *long_table,
            Table("the papers' settings (configuration \"paper\")", ["variant", "settings and source"],
                  papers)]


TABLES: dict[str, Callable[[Mapping[str, Any]], list[Table]]] = {
    "gibbs": gibbs_tables, "rbm": rbm_tables, "vae": vae_tables, "image_gan": image_gan_tables,
    "comparison": comparison_tables, "gan": gan_tables, "gan_search": gan_search_tables,
}


def _tables_of(name: str, doc: Mapping[str, Any]) -> list[Table]:
    if name not in TABLES:
        raise ValueError(f"unknown benchmark section {name!r}; expected one of: "
                         f"{', '.join(TABLES)}.")
    if name not in doc:
        raise KeyError(f"this benchmark file holds no {name!r} section (it has "
                       f"{sorted(k for k in doc if k in TABLES)}); rerun "
                       f"`python -m genmodels.bench --only {name}`.")
    return TABLES[name](doc[name])


def _starts_with_a_number(cell: str) -> bool:
    first = cell.split()[0].replace(",", "").replace("−", "-")
    if first == "∞":
        return True
    try:
        float(first)
    except ValueError:
        return False
    return True


def _right_aligned(table: Table, column: int) -> bool:
    """Whether a column holds numbers (every non-empty cell starts with one)."""
    cells = [row[column] for row in table.rows if row[column].strip()]
    return bool(cells) and all(_starts_with_a_number(cell) for cell in cells)


def format_table_text(table: Table) -> str:
    """A :class:`Table` as aligned plain text: its caption, then the columns, numbers
    aligned on the right, text on the left."""
    n = len(table.header)
    widths = [max(len(row[i]) for row in [table.header, *table.rows]) for i in range(n)]
    right = [_right_aligned(table, i) for i in range(n)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w)
                         for c, w, r in zip(cells, widths, right, strict=True)).rstrip()

    return "\n".join([table.caption, line(table.header), *(line(row) for row in table.rows)])


def format_section_text(name: str, doc: Mapping[str, Any]) -> str:
    """Every table of section ``name`` of a benchmark document, as plain text."""
    return "\n\n".join(format_table_text(t) for t in _tables_of(name, doc))


def table_html(table: Table) -> str:
    """A :class:`Table` as an HTML table (every cell escaped)."""
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in table.header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                   for row in table.rows)
    return (f'<table class="table"><caption>{esc(table.caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _seeds_text(seeds: Any) -> str:
    if isinstance(seeds, Mapping):
        return ", ".join(f"{role} {value}" for role, value in seeds.items())
    return str(list(seeds)) if seeds is not None else "not recorded"


def provenance_text(name: str, doc: Mapping[str, Any]) -> str:
    """Who produced a section: date, command, machine, versions, threads, load, seeds."""
    m = doc["machine"]
    section = doc[name]
    versions = f"Python {m['python']}, PyTorch {m['torch']}"
    if m.get("numpy"):
        versions += f", NumPy {m['numpy']}"
    if m.get("genmodels"):
        versions += f", genmodels {m['genmodels']}"
    if m.get("git_commit"):
        changed = ", with uncommitted changes" if m.get("git_modified") else ""
        versions += f" (commit {m['git_commit'][:10]}{changed})"
    device = section.get("device", m["device"])
    threads = section.get("torch_threads", m.get("torch_threads_gan"))
    if threads is not None:
        device = re.sub(r" \(\d+ threads?\)$", "", device)
        device += f", {threads} torch thread{'s' if threads != 1 else ''}"
    load = m.get("load_average_1min_at_start")
    load_text = "" if load is None else f"; load average {load}"
    if load is not None and doc.get("load_average_1min_at_end") is not None:
        load_text += f" at the start, {doc['load_average_1min_at_end']} at the end"
    wall = section.get("wall_time")
    wall_text = "" if wall is None else f" The section took {wall:.{1 if wall < 10 else 0}f} s."
    reused = section.get("reused_runs") or 0
    if reused:
        commits = sorted({str(r.get("from_commit"))[:10] for row in section.get("results", [])
                          for r in row.get("per_seed", []) if "from_commit" in r})
        wall_text += (f" {reused} of its runs were not retrained but reused (--resume) from an "
                      f"earlier run of the same settings and seeds, by commit "
                      f"{', '.join(commits)}.")
    reproduces = section.get("reproduces")
    repro_text = "" if not reproduces else f" Reproduces the chapter: {reproduces}."
    return (f"Produced {doc['created']} by `{doc['command'].strip()}` on {m['cpu']} "
            f"({m['cpu_count']} cores), {device}; {versions}{load_text}. "
            f"Seeds: {_seeds_text(section.get('seeds', doc.get('seeds')))}.{wall_text}{repro_text}")


def section_html(name: str, doc: Mapping[str, Any]) -> str:
    """The results appendix's rendering of section ``name``: tables, provenance, references.

    A smoke run (``--quick``) is flagged in bold: its numbers do not reproduce the chapter.
    """
    parts = [table_html(t) for t in _tables_of(name, doc)]
    section = doc[name]
    refs = section.get("references", [])
    if refs:
        items = "".join(f"<li>{html.escape(r['quantity'])}: {html.escape(r['value'])}"
                        f"{' — ' if r['value'] else ''}<code>{html.escape(r['source'])}</code></li>"
                        for r in refs)
        parts.append(f"<p>Compared with (closed forms and equations of the book, reference "
                     f"points, and the works behind them):</p><ul>{items}</ul>")
    unfinished = section.get("unfinished")
    if unfinished:
        items = "".join(f"<li>{html.escape(' '.join(map(str, u)))}</li>" for u in unfinished)
        parts.append(f"<p>Not finished yet (trained when the command runs again; the tables "
                     f"above hold only what is finished):</p><ul>{items}</ul>")
    published = section.get("published")
    if published == []:
        parts.append("<p>The chapter compares these numbers with no published result.</p>")
    parts.append(f"<p><em>{html.escape(provenance_text(name, doc))}</em></p>")
    if doc.get("quick"):
        parts.insert(0, "<p><strong>Smoke run (<code>--quick</code>): tiny budgets; these numbers "
                        "do not reproduce the chapter. Run <code>make bench</code> for the real "
                        "ones.</strong></p>")
    return "\n".join(parts)
