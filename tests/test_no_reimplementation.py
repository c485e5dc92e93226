"""No chapter re-implements a library function, judged by what its code computes.

``test_book_sources.test_notebook_does_not_paste_library_code`` compares names only: a
notebook that copies a library function under another name passes it. These tests use
``reimplementation.py`` (see its docstring): canonical expression trees with every name
the code chooses itself replaced by a placeholder, compared with the library's functions;
and a rule for hand-written training loops. They prove the rules on the three
re-implementations issue 14 names, taken verbatim from the notebooks of commit 4257f5c
(``data/reimplemented_cells.json``): each is flagged when it is put back, none of today's
notebooks is.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import reimplementation as ri

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
FIXTURES = json.loads((ROOT / "tests" / "data" / "reimplemented_cells.json").read_text())["cells"]

# Cells that write a training step by hand on purpose: (text of the loop or function, why).
TRAINING_LOOPS_SHOWN_BY_HAND = {
    "for _ in range(800):  # step 1 only": (
        "chapter 7 trains the discriminator alone against a frozen generator, to show that step 1 "
        "(eq-d-step) approaches D* (eq-optimal-discriminator); the library's GAN step always "
        "updates the generator as well"),
    "def train_discriminator_only(real):": (
        "chapter 7's discriminator head start: step 1 alone while the generator is frozen, to watch "
        "the generator's gradients shrink; no library trainer freezes the generator"),
    "for d_step in range(301):": (
        "chapter 9's vanishing gradient: the discriminator trains alone against a frozen generator "
        "while the generator's gradient norms are measured every 10 steps"),
}

# Cells that compute what a library function computes, on purpose:
# (text of the cell, library function) -> why.
COMPUTED_AGAIN_ON_PURPOSE = {
    ("perm = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(0))",
     "genmodels.experiments.rbm_digits.binarised_digits_split"): (
        "chapter 2 fits PPCA to the grey levels of the digits; binarised_digits_split binarises "
        "them (chapter 3's RBM data): the same seeded split of other data"),
}


@pytest.fixture(scope="module")
def library() -> ri.Library:
    return ri.Library()


def structural_findings(library: ri.Library, cells: list[ri.Cell]) -> list[ri.Match]:
    return [m for m in library.matches(cells)
            if not any(marker in m.cell.source and function == m.library_function
                       for marker, function in COMPUTED_AGAIN_ON_PURPOSE)]


def loop_findings(cells: list[ri.Cell]) -> list[ri.TrainingLoop]:
    return [t for t in ri.training_loops(cells)
            if not any(marker in t.source for marker in TRAINING_LOOPS_SHOWN_BY_HAND)]


def fixture_cell(fixture: dict) -> ri.Cell:
    return ri.Cell(fixture["notebook"], fixture["cell_index"], "".join(fixture["source"]))


def fixture_id(fixture: dict) -> str:
    return f"{fixture['notebook'].split('_')[0]}-cell{fixture['cell_index']}"


def flagged(library: ri.Library, fixture: dict, cells: list[ri.Cell]) -> list[str]:
    """What the rule the fixture names reports about ``cells``."""
    if fixture["rule"] == "structure":
        return [str(m) for m in structural_findings(library, cells)
                if m.library_function == fixture["library_function"]]
    return [str(t) for t in loop_findings(cells)]


# --------------------------------------------------------------------------- the book


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_does_not_reimplement_library_code(library, path):
    cells = ri.notebook_cells(path)
    found = [str(m) for m in structural_findings(library, cells)] + [str(t) for t in loop_findings(cells)]
    assert not found, "\n".join(found)


def test_every_allow_list_entry_is_still_needed(library):
    cells = [c for p in NOTEBOOKS for c in ri.notebook_cells(p)]
    loops = ri.training_loops(cells)
    for marker, reason in TRAINING_LOOPS_SHOWN_BY_HAND.items():
        assert reason and any(marker in t.source for t in loops), f"stale allow-list entry: {marker!r}"
    matches = library.matches(cells)
    for (marker, function), reason in COMPUTED_AGAIN_ON_PURPOSE.items():
        assert reason and any(marker in m.cell.source and m.library_function == function
                              for m in matches), f"stale allow-list entry: {marker!r}, {function}"


# --------------------------------------------------------------------------- the proof


def test_the_fixtures_are_the_three_reimplementations_of_issue_14():
    kinds = {(f["notebook"], f["rule"], f["library_function"]) for f in FIXTURES}
    assert ("ch04_autoencoders.ipynb", "structure",
            "genmodels.measure.vae_diagnostics.far_from_encodings_share") in kinds  # the off-data share
    assert {("ch04_autoencoders.ipynb", "training loop", None),
            ("ch05_vae_objective.ipynb", "training loop", None)} <= kinds  # the training loops
    assert {("ch07_gan_objective.ipynb", "structure", "genmodels.gan.generator_gradient_norm"),
            ("ch09_gan_failure_modes.ipynb", "structure", "genmodels.gan.generator_gradient_norm")} <= kinds


@pytest.mark.parametrize("fixture", FIXTURES, ids=fixture_id)
def test_old_reimplementation_is_flagged(library, fixture):
    assert flagged(library, fixture, [fixture_cell(fixture)]), fixture["what"]


@pytest.mark.parametrize("fixture", FIXTURES, ids=fixture_id)
def test_old_reimplementation_is_flagged_when_put_back(library, fixture, tmp_path):
    """Put the old cell back into today's chapter (before its exercises) and check the chapter."""
    name = fixture["notebook"]  # the chapter's file then; if it was renamed, a chapter of that number
    source = next((p for p in [ROOT / "book" / name, *sorted((ROOT / "book").glob(name[:5] + "*.ipynb"))]
                   if p.exists()), NOTEBOOKS[-1])
    nb = json.loads(source.read_text())
    exercises = next(i for i, c in enumerate(nb["cells"])
                     if c["cell_type"] == "markdown" and "".join(c["source"]).startswith("## Exercises"))
    nb["cells"].insert(exercises, {"cell_type": "code", "execution_count": None, "metadata": {},
                                   "outputs": [], "source": fixture["source"]})
    path = tmp_path / source.name
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    cells = [c for c in ri.notebook_cells(path) if c.index == exercises]
    assert cells, "the cell put back was skipped"
    assert flagged(library, fixture, cells), fixture["what"]


class _RenameEverything(ast.NodeTransformer):
    """Rename every identifier the code binds or reads (not attributes: those are operations)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def new(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.Name:
        keep = node.id in ri.CONVENTIONAL_NAMESPACES or node.id in ri.BUILTINS
        return ast.copy_location(ast.Name(node.id if keep else self.new(node.id), node.ctx), node)

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.new(node.arg)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.name = self.new(node.name)
        self.generic_visit(node)
        return node


@pytest.mark.parametrize("fixture", [f for f in FIXTURES if f["rule"] == "structure"], ids=fixture_id)
def test_renaming_every_identifier_changes_nothing(library, fixture):
    cell = fixture_cell(fixture)
    renamed = ast.unparse(_RenameEverything().visit(ast.parse(cell.source)))
    assert "nearest_code_distance" not in renamed and "generator_gradient_norm" not in renamed
    before = structural_findings(library, [cell])
    after = structural_findings(library, [ri.Cell(cell.notebook, cell.index, renamed)])
    assert [(m.library_function, m.nodes) for m in after] == [(m.library_function, m.nodes) for m in before]


# --------------------------------------------------------------------------- negative controls

UNRELATED = {
    "share of large values": "x = torch.randn(1000)\nshare = (x.abs() > 2.0).float().mean().item()\n",
    "a gradient, not a norm of parameters": (
        "mu = torch.zeros(5, requires_grad=True)\n"
        "z = mu + torch.randn(5)\n"
        "z.pow(2).sum().backward()\n"
        "print(mu.grad.norm())\n"),
    "a plot": (
        "fig, ax = plt.subplots(figsize=(6, 3))\n"
        "ax.plot(torch.linspace(0, 1, 50), torch.linspace(0, 1, 50) ** 2)\n"
        "ax.set_xlabel('x')\nplt.show()\n"),
    "calling the library": (
        "off = far_from_encodings_share(z_prior, z_train, reference=z_test)\n"
        "norm = gan.generator_gradient_norm(G, D, z_probe, gan.generator_loss_saturating)\n"
        "history = vae.train_with_adam(model, x_train, epochs, adam, generator)\n"),
    "a loop of library steps": (
        "step = gan.make_gan_step(G, D, opt_g, opt_d, 2)\n"
        "for _ in range(100):\n    terms = step(ring.sample(256, generator=generator))\n"),
}


@pytest.mark.parametrize("name", UNRELATED)
def test_unrelated_code_is_not_flagged(library, name):
    cell = ri.Cell("control.ipynb", 0, UNRELATED[name])
    assert not library.matches([cell]) and not ri.training_loops([cell])


def test_exercise_code_is_not_checked(tmp_path):
    """Exercises ask for library functions again: solutions and the Exercises section are skipped."""
    training = FIXTURES[1]["source"]
    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["## Training\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": training},
        {"cell_type": "markdown", "metadata": {}, "source": ["## Exercises\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": training},
        {"cell_type": "markdown", "metadata": {}, "source": ["## References\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": ["def f(x):\n", "    ### BEGIN SOLUTION\n", "    return x\n", "    ### END SOLUTION\n"]},
        {"cell_type": "code", "metadata": {"tags": ["exercise"]}, "outputs": [], "execution_count": None,
         "source": training},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "chXX.ipynb"
    path.write_text(json.dumps(nb))
    assert [c.index for c in ri.notebook_cells(path)] == [1]
    assert [t.cell.index for t in ri.training_loops(ri.notebook_cells(path))] == [1]
