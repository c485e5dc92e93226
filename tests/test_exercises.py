"""The exercise framework, and every code exercise of the book in both directions.

The second half discovers all ``book/ch*.ipynb``: each reference solution (the code
between the markers, taken from the notebook itself) must pass its check, and the
student edition's stub of the same cell must be reported "not attempted yet".
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import torch
from student_edition import (
    chapter_number,
    code_exercises,
    is_solution_cell,
    replace_solution_regions,
)

from genmodels.exercises import Exercise, ExerciseError, Mistake

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("ch*.ipynb"))

# --- the framework ------------------------------------------------------------------


def _check(student_fn, expected_fn, inputs, mistakes=(), sizes=None, check_dtype=True) -> None:
    with Exercise("0.1", "f") as ex:
        for x in inputs:
            got = ex.call(student_fn, x)
            ex.compare(got, expected_fn(x), args=(x,), mistakes=mistakes, sizes=sizes, check_dtype=check_dtype)


X = torch.linspace(0.5, 3.0, 12).reshape(4, 3)  # 4 rows, 3 columns, all positive


def ref(x: torch.Tensor) -> torch.Tensor:
    return (x**2).sum(dim=1) + x[:, 0]  # [4], not a constant multiple of any simple transform


def test_right_answer_prints_correct(capsys):
    _check(lambda x: (x**2).sum(1) + x[:, 0], ref, [X, X[:1]])
    out = capsys.readouterr().out
    assert out.strip() == "✔ Exercise 0.1 (f): correct — all 2 checks passed."


@pytest.mark.parametrize(
    "stub, note",
    [
        (lambda x: (_ for _ in ()).throw(NotImplementedError("Exercise 0.1: not attempted yet")), ""),
        (lambda x: ..., ""),
        (lambda x: None, "forget `return`"),
    ],
    ids=["raises NotImplementedError", "returns Ellipsis", "returns None"],
)
def test_stub_is_not_attempted_in_one_line(capsys, stub, note):
    _check(stub, ref, [X])
    out = capsys.readouterr().out
    assert out.startswith("Exercise 0.1 (f): not attempted yet.")
    assert len(out.strip().splitlines()) == 1
    assert note in out


@pytest.mark.parametrize(
    "wrong, sizes, fragment",
    [
        (lambda x: -ref(x), None, "sign error"),
        (lambda x: 2 * ref(x), None, "is a factor 1/2 missing"),
        (lambda x: ref(x) / 2, None, "half the expected"),
        (lambda x: 3 * ref(x), {"the 3 columns": 3}, "a sum over the 3 columns where a mean"),
        (lambda x: ref(x) / 3, {"the 3 columns": 3}, "a mean over the 3 columns where a sum"),
        (lambda x: ref(x) / torch.log(torch.tensor(2.0)), None, "bits"),
        (lambda x: ref(x) + 1.8379, None, "off by a constant: every value is +1.838"),
        (lambda x: ref(x) * 1.7, None, "constant multiple (1.7×)"),
        (lambda x: ref(x) + torch.tensor([0.0, 1.0, 0.0, 0.0]), None, "only the value(s) at index 1 are wrong"),
        (lambda x: ref(x).double(), None, "wrong dtype: expected torch.float32"),
        (lambda x: (x**2 + x[:, :1]), {"the 3 columns": 3}, "you did not reduce over the 3 columns"),
        (lambda x: ref(x)[:, None], None, "drop the trailing dimension of size 1"),
        (lambda x: ref(x).sum(), None, "you reduced everything to one number"),
        (lambda x: ref(x).tolist(), None, "expected a torch.Tensor, got list"),
        (lambda x: ref(x) + float("nan"), None, "contains NaN"),
        (lambda x: ref(x) - float("inf"), None, "contains -inf"),
    ],
)
def test_generic_diagnoses(wrong, sizes, fragment):
    with pytest.raises(ExerciseError) as err:
        _check(wrong, ref, [X], sizes=sizes)
    assert fragment in str(err.value)
    assert str(err.value).startswith("Exercise 0.1 (f): ")


def test_transposed_result_is_named():
    with pytest.raises(ExerciseError, match="transposed"):
        _check(lambda x: x.T.clone(), lambda x: x, [X])


def test_reduced_dimension_is_named():
    with pytest.raises(ExerciseError, match="one dimension too few: you reduced over the 3 columns"):
        _check(lambda x: x.sum(1), lambda x: x, [X], sizes={"the 3 columns": 3})


def test_specific_mistake_wins_over_generic_diagnosis():
    mistakes = [Mistake("you doubled it on purpose", lambda x: 2 * ref(x))]
    with pytest.raises(ExerciseError, match="you doubled it on purpose"):
        _check(lambda x: 2 * ref(x), ref, [X], mistakes=mistakes)


def test_student_crash_is_chained_to_the_original_error():
    def broken(x):
        return x.no_such_method()

    with pytest.raises(ExerciseError, match=r"raised AttributeError.*f\(tensor\[4, 3\]\)") as err:
        _check(broken, ref, [X])
    assert isinstance(err.value.__cause__, AttributeError)


def test_not_a_function_is_explained():
    with pytest.raises(ExerciseError, match="Pass the function itself"):
        _check(ref(X), ref, [X])


def test_student_cannot_modify_the_inputs():
    def in_place(x):
        x.mul_(0)
        return ref(x)

    inputs = [X.clone()]
    with pytest.raises(ExerciseError):
        _check(in_place, ref, inputs)
    assert torch.equal(inputs[0], X)


def test_python_float_accepted_for_scalar_answers(capsys):
    _check(lambda x: float(ref(x).mean()), lambda x: ref(x).mean(), [X], check_dtype=False)
    assert "correct" in capsys.readouterr().out


# --- every code exercise of the book ----------------------------------------------------


def _book_exercises():
    cases = []
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for ex in code_exercises(nb, chapter_number(path), str(path)):
            cases.append(pytest.param(path, ex, id=f"{path.stem}-exercise-{ex.number}"))
    return cases


BOOK_EXERCISES = _book_exercises()


def _run_cells(*sources: str) -> None:
    namespace: dict = {"__name__": "__exercise__"}
    for source in sources:
        exec(compile(source, "<exercise cell>", "exec"), namespace)


def test_book_has_code_exercises():
    if not NOTEBOOKS:
        pytest.skip("no book/ch*.ipynb yet")
    assert BOOK_EXERCISES, "no code exercise found in the book"


@pytest.mark.parametrize("path, exercise", BOOK_EXERCISES)
def test_reference_solution_passes_its_check(path, exercise, capsys):
    _run_cells(exercise.solution, exercise.check)
    out = capsys.readouterr().out
    assert re.search(r"✔ Exercise [\d.]+ \(\w+\): correct", out), out


@pytest.mark.parametrize("path, exercise", BOOK_EXERCISES)
def test_student_stub_is_not_attempted(path, exercise, capsys):
    stub = replace_solution_regions(exercise.solution, exercise.number)
    _run_cells(stub, exercise.check)
    out = capsys.readouterr().out
    assert "not attempted yet" in out, out
    assert "correct" not in out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_exercise_convention(path):
    """Each exercise has a dropdown solution; at least half are code exercises."""
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    labels = re.findall(r"\{exercise\}[^\n]*\n:label: (\S+)", text)
    if not labels:
        pytest.skip(f"{path.name} has no exercises yet")
    solutions = [c.source for c in nb.cells if is_solution_cell(c) and c.cell_type == "markdown"]
    for label in labels:
        matching = [s for s in solutions if re.search(r"\{solution\}\s*" + re.escape(label) + r"\s", s)]
        assert matching, f"exercise {label} has no {{solution}} cell"
        assert ":class: dropdown" in matching[0], f"the solution of {label} must be a dropdown"
    n_code = len(code_exercises(nb, chapter_number(path), str(path)))
    assert 2 * n_code >= len(labels), f"{path.name}: {n_code} code exercises of {len(labels)}"
    assert "hide_solutions" not in text


@pytest.mark.parametrize("path, exercise", BOOK_EXERCISES)
def test_written_solutions_do_not_paste_the_code(path, exercise):
    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    region = exercise.solution.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
    for line in region.splitlines():
        line = line.strip()
        if len(line) > 20 and not line.startswith("#"):
            assert line not in markdown, f"solution code pasted into the text: {line!r}"


def test_with_accelerator_copies_moves_tensors_and_labels_the_copy():
    from genmodels.exercises import with_accelerator_copies

    x = torch.arange(3.0)
    cases = [("three points", x, 0.5), ("other", x, 1.0)]
    out = with_accelerator_copies(cases, index=1, devices=[torch.device("cpu")])
    assert out is cases and len(cases) == 3
    label, moved, scalar = cases[2]
    assert label == "other, on cpu" and scalar == 1.0 and torch.equal(moved, x)
    # float64 cases are not copied to Apple MPS (no float64 there); nothing is moved.
    cases64 = [("float64", x.double())]
    assert len(with_accelerator_copies(cases64, devices=[torch.device("mps")])) == 1
    # With no accelerator (this machine), nothing is added.
    assert len(with_accelerator_copies([("a", x)], devices=[])) == 1
