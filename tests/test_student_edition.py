"""The student edition (nbgrader's preprocessors on the stamped chapter): stubs instead of
solutions, no written solutions of code exercises, answer cells for written ones, no outputs,
no leaks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from student_edition import (
    BEGIN,
    END,
    chapter_number,
    is_solution_cell,
    main,
    replace_solution_regions,
    student_notebook,
    write_student_edition,
)

from genmodels.core.files import SourceFileError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("ch*.ipynb"))

SOLUTION_CELL = f'''import torch


def double(x):
    """Twice x; x [n] -> [n]."""
    {BEGIN}
    y = x + x
    return y
    {END}'''


def _toy_notebook() -> nbformat.NotebookNode:
    run = new_code_cell("print(1)", execution_count=3)
    run.outputs = [new_output("stream", name="stdout", text="1\n")]
    tagged = new_markdown_cell("Download the student edition here.")
    tagged.metadata["tags"] = ["remove-in-student"]
    return new_notebook(
        cells=[
            new_markdown_cell("# 4. A chapter"),
            run,
            tagged,
            new_markdown_cell("```{exercise} Warm-up\n:label: ex-warm-up\n\n**Difficulty:** ★☆☆ (1 of 3)\n\n"
                              "Explain.\n```"),
            new_markdown_cell("```{solution} ex-warm-up\n:class: dropdown\n\nBecause reasons.\n```"),
            new_markdown_cell(":::{exercise} Double\n:label: ex-double\n\n**Difficulty:** ★★☆ (2 of 3)\n\n"
                              "Write `double`.\n:::"),
            new_code_cell(SOLUTION_CELL),
            new_code_cell("from genmodels.exercises import autoencoders\nautoencoders.check_double(double)"),
            new_markdown_cell(":::{solution} ex-double\n:class: dropdown\nAdd x to itself.\n:::"),
        ]
    )


def test_stub_keeps_signature_docstring_and_indentation():
    out = replace_solution_regions(SOLUTION_CELL)
    assert out.splitlines() == [
        "import torch",
        "",
        "",
        "def double(x):",
        '    """Twice x; x [n] -> [n]."""',
        "    # YOUR CODE HERE",
        "    raise NotImplementedError()",
    ]


def test_student_notebook_drops_solutions_and_outputs():
    student = student_notebook(_toy_notebook())
    sources = [c.source for c in student.cells]
    assert not any("{solution}" in s for s in sources)
    assert not any("Download the student edition" in s for s in sources)
    assert not any("Because reasons" in s or "Add x to itself" in s for s in sources)
    assert "YOUR ANSWER HERE" in sources   # the written exercise's answer cell, for the student
    assert any("raise NotImplementedError()" in s and "def double(x):" in s for s in sources)
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert len(student.cells) == 7
    nbformat.validate(student)


def test_student_notebook_cells_are_nbgrader_cells():
    """Checks and the text are read-only; the solution and answer cells are editable."""
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in student_notebook(_toy_notebook()).cells}
    assert cells["ex-double"].metadata["editable"] is False
    assert cells["ex-double"].metadata["nbgrader"]["points"] == 2
    assert "editable" not in cells["ex-double-answer"].metadata
    assert cells["ex-warm-up"].metadata["nbgrader"]["points"] == 1
    locked = [c for gid, c in cells.items() if gid.startswith("cell-")]
    assert locked and all(c.metadata["editable"] is False for c in locked)


def test_source_notebook_is_not_modified():
    nb = _toy_notebook()
    before = nbformat.writes(nb)
    student_notebook(nb)
    assert nbformat.writes(nb) == before


@pytest.mark.parametrize(
    "source, message",
    [
        (f"def f():\n    {BEGIN}\n    return 1\n", "never closed"),
        (f"def f():\n    return 1\n    {END}\n", "without a"),
        (f"def f():\n    {BEGIN}\n    {BEGIN}\n    {END}\n", "nested"),
        (f"{BEGIN}\nx = 1\n{END}\n", "inside a function body"),
    ],
    ids=["unclosed", "end without begin", "nested", "top level"],
)
def test_malformed_regions_are_explained(source, message):
    with pytest.raises(ValueError, match=message):
        replace_solution_regions(source, where="ch01, cell 3")


def test_chapter_number_from_file_name():
    assert chapter_number(Path("book/ch01_generative_models.ipynb")) == "1"
    assert chapter_number(Path("book/ch11_comparison.ipynb")) == "11"


def test_command_writes_student_notebooks(tmp_path, capsys):
    source = tmp_path / "ch04_toy.ipynb"
    nbformat.write(_toy_notebook(), source)
    assert main([str(source), "--out", str(tmp_path / "student")]) == 0
    written = tmp_path / "student" / "ch04_toy.ipynb"
    assert written.exists() and "wrote" in capsys.readouterr().out
    assert "y = x + x" not in written.read_text()


def test_tools_entry_point_runs(tmp_path):
    source = tmp_path / "ch04_toy.ipynb"
    nbformat.write(_toy_notebook(), source)
    out = tmp_path / "student"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "student_edition.py"), "--out", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    assert (out / "ch04_toy.ipynb").exists()


# --- the book's notebooks -----------------------------------------------------------------


def _solution_lines(nb: nbformat.NotebookNode) -> tuple[set[str], set[str]]:
    """(lines inside solution regions and solution cells, lines elsewhere), stripped."""
    secret, public = set(), set()
    for cell in nb.cells:
        if is_solution_cell(cell):
            lines = [ln for ln in cell.source.splitlines() if not re.match(r"\s*(```|:::|:class:|:label:)", ln)]
            secret.update(ln.strip() for ln in lines)
            continue
        inside = False
        for line in cell.source.splitlines():
            if line.strip().startswith(BEGIN):
                inside = True
            elif line.strip().startswith(END):
                inside = False
            else:
                (secret if inside else public).add(line.strip())
    secret.discard("")
    return secret, public


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_edition_contains_no_solution_line(path, tmp_path):
    # A missing difficulty line is reported by tools/nbgrader_cells.py --check, not here.
    main([str(path), "--out", str(tmp_path), "--default-points", "1"])
    text = (tmp_path / path.name).read_text()
    student = nbformat.reads(text, as_version=4)
    student_lines = {ln.strip() for c in student.cells for ln in c.source.splitlines()}
    secret, public = _solution_lines(nbformat.read(path, as_version=4))
    # A line that also appears outside every solution (a blank-ish `)` or `return x`
    # used elsewhere in the chapter) is not a leak.
    leaked = sorted((secret - public) & student_lines)
    assert not leaked, f"solution lines in the student edition of {path.name}: {leaked}"
    for cell in student.cells:
        assert BEGIN not in cell.source and "{solution}" not in cell.source
        if cell.cell_type == "code":
            assert cell.outputs == []


# --- the committed student editions (the site's downloads and launch buttons) --------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_student_edition_is_up_to_date(path, tmp_path):
    """student/<chapter>.ipynb is what `make student` writes from the chapter today."""
    committed = ROOT / "student" / path.name
    assert committed.exists(), f"{committed} is missing: run `make student` and commit student/"
    main([str(path), "--out", str(tmp_path), "--default-points", "1"])
    assert (tmp_path / path.name).read_text() == committed.read_text(), (
        f"{committed.relative_to(ROOT)} is out of date: run `make student` and commit student/")


def test_launch_buttons_open_the_student_edition(tmp_path):
    """The site's extension points Binder and Colab at student/<chapter>.ipynb, not the source."""
    import importlib.util
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("course_site", ROOT / "book" / "_ext" / "course_site.py")
    course_site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(course_site)
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / "ch01_toy.ipynb").write_text("{}")
    app = SimpleNamespace(confdir=str(tmp_path))
    binder = "https://mybinder.org/v2/gh/org/repo/main?urlpath=lab/tree/book/ch01_toy.ipynb"
    colab = "https://colab.research.google.com/github/org/repo/blob/main/book/ch01_toy.ipynb"
    context = {"header_buttons": [
        {"label": "launch-buttons", "buttons": [{"url": binder}, {"url": colab}]},
        {"label": "download-buttons", "buttons": [{"url": "../_sources/book/ch01_toy.ipynb"}]},
    ]}
    course_site.launch_student_edition(app, "book/ch01_toy", "page.html", context, None)
    launch, download = context["header_buttons"]
    assert [b["url"] for b in launch["buttons"]] == [
        binder.replace("book/ch01_toy", "student/ch01_toy"), colab.replace("book/ch01_toy", "student/ch01_toy")]
    assert download["buttons"][0]["url"] == "../_sources/book/ch01_toy.ipynb"  # replaced at build-finished
    context = {"header_buttons": [{"label": "launch-buttons", "buttons": [{"url": binder}]}]}
    course_site.launch_student_edition(app, "book/intro", "page.html", context, None)
    assert context["header_buttons"][0]["buttons"][0]["url"] == binder   # not a chapter: unchanged


def test_the_student_edition_refuses_to_overwrite_its_sources(tmp_path):
    source = tmp_path / "ch01_generative_models.ipynb"
    source.write_text((ROOT / "book" / "ch01_generative_models.ipynb").read_text())
    before = source.read_bytes()
    with pytest.raises(SourceFileError, match="overwrite its own sources"):
        write_student_edition([source], tmp_path)
    assert source.read_bytes() == before  # nothing was written


def test_the_student_edition_replaces_a_symlink_instead_of_writing_through_it(tmp_path):
    elsewhere = tmp_path / "elsewhere.ipynb"
    elsewhere.write_text("precious")
    out = tmp_path / "student"
    out.mkdir()
    (out / "ch01_generative_models.ipynb").symlink_to(elsewhere)
    write_student_edition([ROOT / "book" / "ch01_generative_models.ipynb"], out)
    assert elsewhere.read_text() == "precious"
    written = out / "ch01_generative_models.ipynb"
    assert not written.is_symlink() and "BEGIN SOLUTION" not in written.read_text()
