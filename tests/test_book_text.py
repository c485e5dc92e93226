"""The text of the book: its length, its numbers, and its characters.

* **Length.** Words of markdown (math, code and directive options removed), per chapter at most
  3,500 and per markdown cell at most 400: a chapter is read in one sitting, a cell on one screen.
* **Every number in the prose comes from the run.** A number that a run produces is printed by a
  cell or pasted into the text with ``{glue:text}`` (myst-nb) from the cell that computes it, or from
  a result that ships with the package. So every numeral left in the prose — outside math, code,
  roles (``{glue:text}``, ``{eq}``, ``{cite}``...), "chapter N" and "exercise N.M" — must be covered
  by an entry of ``ALLOWED`` below, which says why it is not a run result: a constant, a definition,
  a setting of the chapter, a date, a published number, a name.
* **No escape accidents.** No control characters in any source, and no inline math that begins with
  a line break (``$\\rho`` written in a Python string once became a line break and ``ho``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("ch*.ipynb"))
MAX_CHAPTER_WORDS = 3500
MAX_CELL_WORDS = 400

_ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
_FENCE = re.compile(r"^(```+|:::+).*?^\1\s*$", re.MULTILINE | re.DOTALL)
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.DOTALL)
_INLINE_MATH = re.compile(r"\$[^$\n]*\$")
_CODE = re.compile(r"`[^`]*`")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_TARGET = re.compile(r"^\([\w:.-]+\)=\s*$", re.MULTILINE)
_DIRECTIVE_OPTION = re.compile(r"^:[\w-]+:.*$", re.MULTILINE)
_DIRECTIVE_FENCE = re.compile(r"^(```+|:::+)\s*\{[\w-]+\}.*$|^(```+|:::+)\s*$", re.MULTILINE)
_CHAPTER_REF = re.compile(r"\b[Cc]hapters?\s+\d+(?:\s*(?:,|and|or|to|–|-)\s*\d+)*|\b[Ee]xercises?\s+\d+\.\d+")
_NUMERAL = re.compile(r"(?<![\w.])\d(?:[\d,.  ]*\d)?")


def markdown_cells(path: Path) -> list[tuple[int, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [(i, "".join(c["source"])) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"]


def words(markdown: str) -> int:
    """Words of a markdown cell with math, code blocks, code spans and directive syntax removed."""
    text = _DISPLAY_MATH.sub(" ", markdown)
    text = _INLINE_MATH.sub(" ", text)
    text = re.sub(r"^(```+)(?!\s*\{).*?^\1\s*$", " ", text, flags=re.MULTILINE | re.DOTALL)  # code blocks
    text = _DIRECTIVE_OPTION.sub(" ", _DIRECTIVE_FENCE.sub(" ", text))
    return len(text.split())


def prose(markdown: str) -> str:
    """The prose of a markdown cell: math, code, roles, targets and chapter/exercise references removed."""
    text = _DISPLAY_MATH.sub(" ", markdown)
    text = re.sub(r"^(```+)(?!\s*\{).*?^\1\s*$", " ", text, flags=re.MULTILINE | re.DOTALL)
    text = _DIRECTIVE_OPTION.sub(" ", _DIRECTIVE_FENCE.sub(" ", text))
    text = _INLINE_MATH.sub(" ", text)
    text = _ROLE.sub(" ", text)
    text = _CODE.sub(" ", text)
    text = _LINK_TARGET.sub("]", text)
    text = _TARGET.sub(" ", text)
    text = re.sub(r"^\s*(\d+\.|[-*])\s", " ", text, flags=re.MULTILINE)  # list markers
    return re.sub(r"\s+", " ", _CHAPTER_REF.sub(" ", text))


# (chapter stem or None for every chapter, pattern around the numeral, why it is not a run result)
ALLOWED: list[tuple[str | None, str, str]] = [
    # names and notation
    (None, r"\bCD-\d+|\bPCD-\d+|\bAR\(1\)|\blag-1\b|\bWasserstein-1\b|\b2-Wasserstein\b|\b1-Lipschitz\b"
           r"|\bPacGAN\d\b|\bLeakyReLU\(0\.2\)|\bstride-2\b|\b8-bit\b|\b\d+(st|nd|rd|th) percentile",
     "a name: an algorithm, a distance, a layer, a percentile"),
    (None, r"\b\d+-?D\b|\b\d+-dimensional\b|\bin \d+D\b", "a dimension: a definition of the model or data"),
    (None, r"\d+\s*×\s*\d+", "a size of an image, a block or a grid: a definition"),
    (None, r"\(\d\)|\b[Ss]teps? [12]\b|\b[Pp]roblem [123]\b|\bJob [12]\b|\b[123]\. [a-z]",
     "an enumeration: the tutorial's steps and problems, list items"),
    (None, r"13/04/2024", "the date of the tutorial"),
    (None, r"Part I+\b", "a part of the book"),
    # constants and definitions
    (None, r"close to [01]\b|\b[01] for (real|fake)|targets? [01]\b|(real|fake) data [01]\b|→ [01]\b"
           r"|\blabel 1\b|from 1 to\b|instead of 1\b|the target 0\b|rounds to exactly 1|\bnot both 0\b"
           r"|\b(is|means|score|scores|at) 0\b|\bto 0\b|drop to 0|of modulus exactly 1|\b[01] on\b",
     "a constant of the definitions: labels 1 and 0, probabilities 0 and 1"),
    (None, r"\(0, 0\)", "the origin, where the prior is centred"),
    (None, r"= 1/α|generated data 0|\b0 means|\(not 0:|\bbecomes 1\b|distance 0\b|\bstep 0\b|\bseed 0\b",
     "a constant or a definition: equality is distance 0, the first step is step 0, the chapters' seed is 0"),
    (None, r"ring of 8 and the grid of 25", "the toy data sets' definitions"),
    (None, r"½", "a constant"),
    (None, r"\b1 % (of held-out|by construction)|\b1 % of held-out|held-out data \(1 %\)|than 99 %|\b99 %"
           r"|score 1 %|\b10 % (per class|each)|balanced 10 %|the 50 % of|at 50 %",
     "a definition: the off-data radius is the 99th percentile (1 % of held-out codes by construction), "
     "a balanced data set has 10 % per class, chance is 50 %"),
    (None, r"within 3 standard deviations|3 standard deviations|radius 1, std 0\.01|ring of 8 Gaussians"
           r"|\b8 modes\b|\b25 modes\b|of 25\b|of 8 modes|\b8\s+dimensions|radii 1, 2 and 3|radius 2\b"
           r"|0\.01\s+wide|0\.05 away|five times wider",
     "a definition of the toy data sets and their metrics (chapter 1 and the PacGAN protocol)"),
    (None, r"about 86 % of the prior's mass", "a property of the 2-D standard normal: 1 − e^{-2}"),
    (None, r"2 log 2|1\.39", "a constant: 2 log 2"),
    (None, r"\b784\b|\b783\b|\b28\b|\bten (classes|kinds)|60[  ,]000 training|10[  ,]000 test|6000 training"
           r"|256 levels|\b188 MB|1797|\b1500 training|297 test|\b128 features|10 classes",
     "a property of the data sets (Fashion-MNIST, the digits) and of the classifier"),
    # settings of the chapters (the same on every machine)
    (None, r"\d[\d,  ]*\s+(training |test |real |generated |decoded |held-out |random |fixed )?"
           r"(images|codes|chains|noise vectors|samples|pairs|points|digits|seeds|units|hidden units|"
           r"hidden|features|epochs|updates|steps|Gibbs steps|dimensions|latent dimensions|classes|"
           r"layers|trousers|pixels)\b",
     "a setting of the chapter's experiment: sizes, budgets, numbers of draws"),
    (None, r"layers of \d+( and \d+)?|\d+ of \d+\b|of \d+ units|\d+ and \d+ units|of (\d+ )?(hidden )?units",
     "an architecture: a setting"),
    (None, r"every \d+ steps|after \d+ steps|for \d+ steps|batch(es)? (of )?\d+|in steps of 0\.5"
           r"|exceeds 0\.01|0\.01 nats|±2 standard|\b20 it would|a \d+ × \d+ grid|of 300\s+random"
           r"|\d+ MLP GAN steps|\d+ Gibbs|\bonly 1 %|\d+ chains",
     "a setting of the chapter's experiment"),
    (None, r"\b(60|30)[  ]000 (and|steps)|about 32 and 16 epochs|20,000 updates|about 21 epochs"
           r"|STEPS = 20_000|\b2,000 updates|\b2,000\b",
     "a budget of the chapter: budget_for(cpu=..., gpu=...)"),
    ("ch01_generative_models", r"\|\s*\d+(–\d+)?\s*\|", "chapter numbers in the table of families"),
    ("ch08_gan_practice", r"25 epochs|ten times", "the DCGAN paper's setting (a citation)"),
    ("ch08_gan_practice", r'"FD = 12"|uses 2 000\)|2 000 \*perfect|32 real and 32', "an example, or a setting"),
    ("ch09_gan_failure_modes", r"of 256 in the discriminator", "an architecture: a setting"),
    ("ch10_gan_remedies", r"400\s+epochs of 100,000 samples in batches of 100, i\.e\. 400,000 steps|95\.6 %"
                          r"|24\.8 modes and 93\.6 %|400,000 steps|5 seeds|\b25\^4|2-core CPU",
     "a published number or setting (PacGAN, a citation) and the benchmark's protocol"),
    ("ch10_gan_remedies", r"4 layers of 256 units|3 of 128|\b40 apart|10 to 20 standard"
                          r"|standard deviation 0\.05\)|a point 0\.2 away|at most about 0\.2 apart",
     "the grid's geometry (its modes' standard deviation, a distance from a mode) and the players' architecture"),
    ("ch10_gan_remedies", r"\(seed 100\)|\(0 to 4\)|5 critic steps instead of 2|Algorithm 1\b|\b8 ring modes",
     "the search's protocol (its seeds, WGAN-GP's critic steps, the paper's algorithm) and the ring's size"),
    ("ch06_vae_practice", r"2-core CPU|every 50 steps", "a setting"),
    ("ch11_comparison", r"\|\s*\d+(–\d+)?\s*\|", "chapter numbers in the table of families"),
    ("ch11_comparison", r"minibatches of 64|64-dimensional|784-dimensional|\d+(–\d+)+|\(16\+16\)|\b200\b|\b16 hidden",
     "an architecture or setting of the comparison"),
    ("ch03_gibbs_sampling", r"about 1 %|1\.5–2\.3|20 000 chains|20 steps", "a derived value stated by the derivation, or a setting"),
    ("ch05_vae_objective", r"20 000 samples|1\) Minimize", "a setting; the slide's own numbering"),
    ("ch07_gan_objective", r"6 points|256 noise", "a setting"),
]


def uncovered_numerals(stem: str, text: str) -> list[str]:
    spans = []
    for chapter, pattern, _ in ALLOWED:
        if chapter in (None, stem):
            spans += [m.span() for m in re.finditer(pattern, text)]
    bad = []
    for m in _NUMERAL.finditer(text):
        if not any(a <= m.start() and m.end() <= b for a, b in spans):
            bad.append(text[max(0, m.start() - 40):m.end() + 25].replace("\n", " "))
    return bad


def _exercise(source: str) -> bool:
    return "{exercise}" in source or "{solution}" in source


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_and_cell_length(path):
    counts = {i: words(s) for i, s in markdown_cells(path)}
    assert sum(counts.values()) <= MAX_CHAPTER_WORDS, f"{path.name}: {sum(counts.values())} words"
    long = {i: n for i, n in counts.items() if n > MAX_CELL_WORDS}
    assert not long, f"{path.name}: markdown cells over {MAX_CELL_WORDS} words (cell: words): {long}"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_numerals_in_prose_are_not_run_results(path):
    bad = {i: found for i, s in markdown_cells(path) if not _exercise(s)
           for found in [uncovered_numerals(path.stem, prose(s))] if found}
    assert not bad, (f"{path.name}: numerals in prose that no ALLOWED entry explains — print them from a "
                     f"cell, glue them, or say why they are not a run result (cell: context): {bad}")


def test_the_numeral_check_is_not_vacuous():
    assert uncovered_numerals("ch04_autoencoders", prose("the share stays at 12.0 % against 1 %"))
    assert not uncovered_numerals("ch04_autoencoders", prose("the share {glue:text}`share:.1f` % by $r = 0.3$"))
    assert words("Two words $x + y = 3$\n\n$$\na b c\n$$") == 2


SOURCES = [*sorted(BOOK.glob("*.ipynb")), *sorted(BOOK.glob("*.md")), ROOT / "README.md"]


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_no_escape_accidents(path):
    text = path.read_text(encoding="utf-8")
    sources = ([("".join(c["source"]), c["cell_type"]) for c in json.loads(text)["cells"]]
               if path.suffix == ".ipynb" else [(text, "markdown")])
    for source, kind in sources:
        control = re.findall(r"[\x00-\x08\x0b-\x1f\x7f]", source)
        assert not control, f"{path.name}: control characters {control!r}"
        if kind == "markdown":
            inline = _DISPLAY_MATH.sub(" ", re.sub(r"```.*?```", " ", source, flags=re.DOTALL)).split("$")[1::2]
            assert not [m for m in inline if m.startswith("\n")], \
                f"{path.name}: inline math that begins with a line break (a lost backslash?)"


_GLUE = re.compile(r"\{glue:text\}`([\w-]+)(?::[^`]*)?`")


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_glued_number_is_computed_by_the_chapter(path):
    """Each ``{glue:text}`name``` of a chapter is glued by one of its cells: a key of the dictionary a
    code cell passes to ``glue_numbers``, or a number of the shipped results the chapter reads."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    used = {name for _, s in markdown_cells(path) for name in _GLUE.findall(s)}
    if not used:
        return
    assert "glue_numbers(" in code, f"{path.name} pastes numbers but glues none"
    glued = set(re.findall(r"\"([\w-]+)\":", code))
    if "remedies_numbers(" in code:
        from genmodels import results
        from genmodels.results import tables
        glued |= set(tables.remedies_numbers(results.load_results("gan_search")["gan_search"],
                                             results.load_results("gan")["gan"]))
    assert used <= glued, f"{path.name}: pasted but never glued: {sorted(used - glued)}"
