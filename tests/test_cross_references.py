"""Every "chapter N", "exercise N.M" and cross-reference of the book resolves.

Chapters are numbered by their order in the numbered parts of ``_toc.yml``, exercises by
counting the ``{exercise}`` directives of each chapter (as the book and the student edition
do). Scanned: the chapters' markdown and code cells and every other notebook and page of
``book/``, ``README.md``, ``CONTRIBUTING.md`` and the sources of ``lib/genmodels`` (docstrings,
comments and the exercise checks' messages). Checked:

* "chapter N" (also "chapters 6, 8 and 11", "chapters 7–10") names an existing chapter;
* "exercise N.M" names an existing exercise, and so does every ``Exercise("N.M", ...)`` of a
  check module: it must be the number of the notebook exercise whose check cell calls it;
* every ``{ref}``, ``{numref}`` and ``{eq}`` target is a label of the book (a figure of a code
  cell is labelled by its ``mystnb.figure.name`` metadata), every ``{doc}`` a
  page, every ``eq-...`` label the library cites exists, and "eq-x (chapter N)" is defined
  in chapter N;
* a chapter's student-edition download link names the chapter's own file, and every
  ``chNN_name`` file name written anywhere is a chapter of the book.

The first tests feed the checker bad references, so that it is known to fail.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
import yaml
from student_edition import code_exercises, is_solution_cell

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
LIB = ROOT / "lib" / "genmodels"

_EXERCISE_DIRECTIVE = re.compile(r"^\s*(```+|:::+)\s*\{exercise\}", re.MULTILINE)
_CHAPTER_REF = re.compile(
    r"\b[Cc]hapters?\s+(\d+\b(?:\s*(?:,|and|or|to|–|-)\s*\d+\b)*)(?!\.\d)"
)
_EXERCISE_REF = re.compile(r"\b[Ee]xercises?\s+(\d+)\.(\d+)\b")
_EXERCISE_CALL = re.compile(r"\bExercise\(\s*[\"'](\d+)\.(\d+)[\"']")
_ROLE = re.compile(r"\{(ref|numref|eq|doc)\}`([^`]+)`")
_LABEL_DEFINITIONS = [
    re.compile(r"\$\$\s*\(([A-Za-z][\w:.-]*)\)"),       # $$ ... $$ (eq-label)
    re.compile(r"^\s*:label:\s*(\S+)", re.MULTILINE),   # directive option
    re.compile(r"^\s*:name:\s*(\S+)", re.MULTILINE),    # figure/table option
    re.compile(r"^\(([\w:.-]+)\)=\s*$", re.MULTILINE),  # MyST target
]
_EQ_MENTION = re.compile(r"(?<![\w-])eq-[a-z0-9]+(?:-[a-z0-9]+)*")
_EQ_IN_CHAPTER = re.compile(
    r"(?<![\w-])(eq-[a-z0-9]+(?:-[a-z0-9]+)*)(?:\s+\(chapter\s+(\d+)\)|,\s+chapter\s+(\d+)\))"
)
_CHAPTER_FILE = re.compile(r"(?<!\w)ch(\d\d)_[a-z0-9_]*[a-z0-9](?![\w])")
_DOWNLOAD = re.compile(r"\{download\}`[^`]*<\.\./student/([^>]+)>`")


@dataclass
class Book:
    """What references may point at: chapters, their exercises, labels and pages."""

    chapters: list[str]                                        # chapter stems, chapter 1 first
    exercises: dict[int, int] = field(default_factory=dict)    # chapter number -> count
    labels: dict[str, str] = field(default_factory=dict)       # label -> stem defining it
    pages: set[str] = field(default_factory=set)               # stems of book/*.md|ipynb

    def chapter_of(self, stem: str) -> int | None:
        return self.chapters.index(stem) + 1 if stem in self.chapters else None


def problems_in(where: str, text: str, book: Book, stem: str | None = None) -> list[str]:
    """Every reference in ``text`` that does not resolve in ``book``, one line each."""
    found = []
    n = len(book.chapters)
    for match in _CHAPTER_REF.finditer(text):
        for number in map(int, re.findall(r"\d+", match.group(1))):
            if not 1 <= number <= n:
                found.append(f"{where}: {match.group(0)!r} — the book has chapters 1 to {n}")
    for pattern in (_EXERCISE_REF, _EXERCISE_CALL):
        for match in pattern.finditer(text):
            chapter, k = int(match.group(1)), int(match.group(2))
            available = book.exercises.get(chapter, 0)
            if not 1 <= k <= available:
                found.append(f"{where}: {match.group(0)!r} — chapter {chapter} has "
                             f"{available} exercise{'s' if available != 1 else ''}")
    for match in _ROLE.finditer(text):
        role, target = match.groups()
        target = re.sub(r"^.*<([^>]*)>$", r"\1", target.strip(), flags=re.DOTALL)
        if role == "doc":
            page = Path(target)
            if (page.stem if page.suffix in {".md", ".ipynb"} else page.name) not in book.pages:
                found.append(f"{where}: {{doc}}`{target}` — no such page in book/")
        elif target not in book.labels:
            found.append(f"{where}: {{{role}}}`{target}` — no such label in the book")
    for match in _EQ_MENTION.finditer(text):
        if match.group(0) not in book.labels:
            found.append(f"{where}: {match.group(0)} — no equation has this label")
    for match in _EQ_IN_CHAPTER.finditer(text):
        label, number = match.group(1), int(match.group(2) or match.group(3))
        defined_in = book.chapter_of(book.labels.get(label, ""))
        if label in book.labels and defined_in != number:
            found.append(f"{where}: {match.group(0)!r} — {label} is defined in "
                         f"{'chapter ' + str(defined_in) if defined_in else book.labels[label]}")
    for match in _CHAPTER_FILE.finditer(text):
        if match.group(0) not in book.pages:
            found.append(f"{where}: {match.group(0)} — no such chapter file in book/")
    if stem is not None:
        for match in _DOWNLOAD.finditer(text):
            if Path(match.group(1)).stem != stem:
                found.append(f"{where}: the student edition link names {match.group(1)}, "
                             f"not {stem}.ipynb")
    return found


def exercise_number_problems(where: str, check_source: str, number: str) -> list[str]:
    """The check that a notebook's check cell calls must show the exercise's own number."""
    module = re.search(r"from genmodels\.exercises import (\w+)", check_source)
    calls = re.findall(r"\b(\w+)\.(check_\w+)\(", check_source)
    if not module or not calls:
        return [f"{where}: the check cell imports no check module or calls no check_* function"]
    found = []
    for name, function in calls:
        source = inspect.getsource(getattr(importlib.import_module(f"genmodels.exercises.{name}"), function))
        shown = [f"{m.group(1)}.{m.group(2)}" for m in _EXERCISE_CALL.finditer(source)]
        if shown != [number]:
            found.append(f"{where}: {name}.{function} shows exercise {shown or 'no number'}, "
                         f"but it checks exercise {number} of the book")
    return found


# --- the book ------------------------------------------------------------------------------


def _toc_chapters() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [Path(c["file"]).name for part in toc.get("parts", []) if part.get("numbered")
            for c in part.get("chapters", [])]


def _figure_options(cell) -> dict:
    """The figure options myst-nb reads from a code cell's metadata (caption, name)."""
    return cell.metadata.get("mystnb", {}).get("figure", {})


def _notebook_texts(path: Path) -> list[tuple[str, str]]:
    nb = nbformat.read(path, as_version=4)
    texts = []
    for i, c in enumerate(nb.cells):
        texts.append((f"{path.relative_to(ROOT)}, cell {i}", c.source))
        if _figure_options(c).get("caption"):
            texts.append((f"{path.relative_to(ROOT)}, cell {i}, figure caption", _figure_options(c)["caption"]))
    return texts


def load_book() -> Book:
    book = Book(chapters=_toc_chapters())
    for path in sorted(BOOK.glob("*.ipynb")) + sorted(BOOK.glob("*.md")):
        book.pages.add(path.stem)
        texts = (_notebook_texts(path) if path.suffix == ".ipynb"
                 else [(str(path.relative_to(ROOT)), path.read_text())])
        for _, text in texts:
            for pattern in _LABEL_DEFINITIONS:
                for label in pattern.findall(text):
                    assert label not in book.labels or book.labels[label] == path.stem, (
                        f"label {label} defined in {book.labels[label]} and {path.stem}")
                    book.labels[label] = path.stem
        if path.suffix == ".ipynb":  # a figure named in a code cell's metadata (mystnb.figure.name)
            for cell in nbformat.read(path, as_version=4).cells:
                if label := _figure_options(cell).get("name"):
                    assert label not in book.labels or book.labels[label] == path.stem, (
                        f"label {label} defined in {book.labels[label]} and {path.stem}")
                    book.labels[label] = path.stem
    for number, stem in enumerate(book.chapters, start=1):
        nb = nbformat.read(BOOK / f"{stem}.ipynb", as_version=4)
        book.exercises[number] = sum(len(_EXERCISE_DIRECTIVE.findall(c.source)) for c in nb.cells
                                     if c.cell_type == "markdown" and not is_solution_cell(c))
    return book


def scanned_texts() -> list[tuple[str, str, str | None]]:
    """(where, text, chapter stem or None) for everything the test reads."""
    texts = []
    for path in sorted(BOOK.glob("*.ipynb")):
        texts += [(where, text, path.stem) for where, text in _notebook_texts(path)]
    for path in sorted(BOOK.glob("*.md")) + [ROOT / "README.md", ROOT / "CONTRIBUTING.md"]:
        texts.append((str(path.relative_to(ROOT)), path.read_text(), None))
    for path in sorted(LIB.rglob("*.py")):
        texts.append((str(path.relative_to(ROOT)), path.read_text(), None))
    return texts


BOOK_INDEX = load_book()


# --- the checker fails on bad references ------------------------------------------------------


def _toy_book() -> Book:
    return Book(chapters=["ch01_a", "ch02_b"], exercises={1: 2, 2: 1},
                labels={"eq-one": "ch01_a", "eq-two": "ch02_b", "ex-first": "ch01_a"},
                pages={"ch01_a", "ch02_b", "intro"})


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("as chapter 3 shows", "'chapter 3' — the book has chapters 1 to 2"),
        ("Chapter 0 is the preface", "'Chapter 0'"),
        ("chapters 1 and 4", "'chapters 1 and 4'"),
        ("(chapters 1–3)", "'chapters 1–3'"),
        ("see exercise 1.3", "'exercise 1.3' — chapter 1 has 2 exercises"),
        ("Exercise 3.1 asks", "'Exercise 3.1' — chapter 3 has 0 exercises"),
        ('with Exercise("2.2", "f") as ex:', "'Exercise(\"2.2\"' — chapter 2 has 1 exercise"),
        ("{ref}`ex-missing`", "{ref}`ex-missing` — no such label"),
        ("{numref}`Exercise {number} <ex-gone>`", "{numref}`ex-gone`"),
        ("{eq}`eq-three`", "{eq}`eq-three` — no such label"),
        ("{doc}`ch03_c`", "{doc}`ch03_c` — no such page"),
        ("Book: eq-missing (chapter 1).", "eq-missing — no equation has this label"),
        ("Book: eq-two (chapter 1).", "eq-two is defined in chapter 2"),
        ("(Book: eq-one, chapter 2)", "eq-one is defined in chapter 1"),
        ("open book/ch03_gone.ipynb", "ch03_gone — no such chapter file"),
    ],
)
def test_bad_reference_is_reported(text, fragment):
    found = problems_in("here", text, _toy_book())
    assert any(fragment in line for line in found), found


def test_good_references_pass():
    text = ("Chapter 1 and chapters 1–2; exercise 1.2, Exercise 2.1; Exercise(\"1.1\", \"f\"); "
            "{ref}`ex-first`, {ref}`the first <ex-first>`, {eq}`eq-two`, {doc}`intro`, {doc}`ch02_b`; "
            "Book: eq-one (chapter 1), eq-two (chapter 2); Book: eq-two, chapter 2); "
            "the chapter's 2 figures; ch01_a.ipynb; Exercise N.k; chapter 10.5 cm; CD-10.")
    assert problems_in("here", text, _toy_book()) == []


def test_download_link_must_name_the_chapter():
    link = "{download}`ch02_b.ipynb <../student/ch02_b.ipynb>`"
    assert problems_in("here", link, _toy_book(), stem="ch02_b") == []
    found = problems_in("here", link, _toy_book(), stem="ch01_a")
    assert any("names ch02_b.ipynb, not ch01_a.ipynb" in line for line in found), found


def test_wrong_number_in_a_check_is_reported():
    check = ("from genmodels.exercises import gan_remedies\n\n"
             "gan_remedies.check_minibatch_std_feature(minibatch_std_feature)")
    assert exercise_number_problems("here", check, "10.1") == []
    found = exercise_number_problems("here", check, "9.3")
    assert found and "shows exercise ['10.1'], but it checks exercise 9.3" in found[0]


# --- the book's references ------------------------------------------------------------------


def test_the_book_has_chapters_exercises_and_labels():
    assert len(BOOK_INDEX.chapters) >= 11, BOOK_INDEX.chapters
    assert all(BOOK_INDEX.exercises[n] > 0 for n in BOOK_INDEX.exercises)
    assert {"eq-bilinear-game", "eq-minibatch-std", "ex-mixture-log-density"} <= set(BOOK_INDEX.labels)


@pytest.mark.parametrize(
    "where, text, stem", [pytest.param(*scanned, id=scanned[0]) for scanned in scanned_texts()]
)
def test_every_reference_resolves(where, text, stem):
    found = problems_in(where, text, BOOK_INDEX, stem)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("stem", BOOK_INDEX.chapters)
def test_exercise_checks_show_the_books_numbers(stem):
    nb = nbformat.read(BOOK / f"{stem}.ipynb", as_version=4)
    number = str(BOOK_INDEX.chapter_of(stem))
    found = []
    for exercise in code_exercises(nb, number, stem):
        found += exercise_number_problems(f"{stem}, cell {exercise.cell}", exercise.check, exercise.number)
    assert not found, "\n".join(found)


def test_every_check_module_is_named_without_a_chapter_number():
    modules = [p.stem for p in (LIB / "exercises").glob("*.py") if not p.stem.startswith("_")]
    assert modules and not [m for m in modules if re.search(r"\d", m)], modules
    labels = [label for label in BOOK_INDEX.labels if label.startswith("ex-")]
    assert labels and not [label for label in labels if re.match(r"ex-ch\d", label)], labels


def test_check_module_docstrings_list_the_checks_numbers():
    """``* Exercise 9.1 — :func:`check_x``` in a check module's docstring is check_x's number."""
    found = []
    for path in sorted((LIB / "exercises").glob("*.py")):
        if path.stem.startswith("_"):
            continue
        module = importlib.import_module(f"genmodels.exercises.{path.stem}")
        for number, name in re.findall(r"Exercise (\d+\.\d+) — :func:`(check_\w+)`", module.__doc__ or ""):
            shown = [f"{m.group(1)}.{m.group(2)}" for m in _EXERCISE_CALL.finditer(
                inspect.getsource(getattr(module, name)))]
            if shown != [number]:
                found.append(f"{path.name}: the docstring says {name} is exercise {number}, it shows {shown}")
    assert not found, "\n".join(found)
