"""The catalogue: strict metadata, slug resolution, and the real catalogue's integrity."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROBE

from kata_runner.catalog import PACKAGE_DIR, Catalog, load_kata
from kata_runner.errors import CatalogError, UsageError
from kata_runner.statement import Statement


@pytest.fixture
def probe_copy(tmp_path: Path) -> Path:
    """A writable copy of the probe kata's folder (with its solution beside it)."""
    shutil.copytree(PROBE / "katas" / "probe", tmp_path / "katas" / "probe")
    shutil.copytree(PROBE / "solutions", tmp_path / "solutions")
    return tmp_path / "katas" / "probe"


def load(folder: Path):
    return load_kata(folder, folder.parent.parent / "solutions", PROBE / "suites")


def edit_toml(folder: Path, old: str, new: str) -> None:
    path = folder / "kata.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_probe_loads_with_its_limits_and_benchmark(probe_copy):
    kata = load(probe_copy)
    assert [level.title for level in kata.levels] == ["double", "total"]
    assert kata.limits.per_test_seconds == 1 and kata.limits.run_seconds == 40
    assert kata.benchmark is not None and kata.benchmark.repeat == 9
    assert kata.public_names == ("double", "total")


def test_unknown_key_names_the_file_the_key_and_the_fix(probe_copy):
    edit_toml(probe_copy, "budget_minutes = 25", "budget_minutes = 25\nbudget = 30")
    with pytest.raises(CatalogError) as error:
        load(probe_copy)
    message = str(error.value)
    assert (
        "kata.toml" in message
        and "unknown key 'budget'" in message
        and "did you mean 'budget_minutes'" in message
    )


def test_missing_field_names_the_key(probe_copy):
    edit_toml(probe_copy, 'summary = "', 'ignored = "')
    with pytest.raises(CatalogError, match="missing required key 'summary'"):
        load(probe_copy)


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("budget_minutes = 25", "budget_minutes = 40", "from 25 to 35"),
        ("requires = []", 'requires = ["jax"]', "requires"),
        ("level = 1", "level = 3", "level number from 1 to 2"),
        ('title = "total"', 'title = "total"\nweight = 2', "unknown key 'weight' in [[levels]] #2"),
        ("per_test_seconds = 1", "per_test_seconds = 0", "per_test_seconds"),
        ("format_version = 1", "format_version = 2", "format_version 2 is not supported"),
    ],
)
def test_bad_values_are_errors_that_say_what_is_allowed(probe_copy, old, new, complaint):
    edit_toml(probe_copy, old, new)
    with pytest.raises(CatalogError, match=None) as error:
        load(probe_copy)
    assert complaint in str(error.value)


def test_a_missing_stub_is_an_error(probe_copy):
    (probe_copy / "probe.py").unlink()
    with pytest.raises(CatalogError, match="the stub"):
        load(probe_copy)


def test_prefixes_resolve_and_typos_get_a_suggestion(probe_catalog):
    assert probe_catalog.resolve("pro").slug == "probe"
    with pytest.raises(UsageError, match="did you mean 'probe'"):
        probe_catalog.resolve("prboe")


def test_typo_on_the_real_catalogue_exits_2_with_a_suggestion(kata):
    result = kata("run", "cosine_simlarity")
    assert result.code == 2
    assert "did you mean 'cosine_similarity'" in result.err
    assert "Traceback" not in result.err


def test_reference_clears_cosine_similarity_and_the_stub_is_unmodified(kata, tmp_path):
    reference = kata("run", "cosine_similarity", "--reference", "--json")
    assert reference.code == 0
    assert (reference.doc["cleared_levels"], reference.doc["total_levels"]) == (3, 3)
    assert reference.doc["schema"] == "kata-results/1" and reference.doc["complete"]
    stub = kata(
        "run",
        "cosine_similarity",
        "--file",
        str(Catalog().get("cosine_similarity").stub_path),
        "--json",
    )
    assert stub.code == 1
    assert (stub.doc["status"], stub.doc["reason"]) == ("fail", "stub_unmodified")


def test_every_statement_has_one_section_per_level():
    for kata in Catalog():
        statement = Statement.parse(kata.statement_path.read_text())
        assert len(statement.levels) == len(kata.levels), kata.slug
        for number, section in enumerate(statement.levels, start=1):
            assert section.startswith(f"## Level {number}:"), (kata.slug, section[:40])


def test_every_kata_in_order_is_in_the_catalogue():
    catalog = Catalog()
    order = (catalog.katas_dir / "ORDER").read_text().split()
    assert catalog.slugs() == order


def test_the_catalogue_is_carried_by_the_installed_package():
    catalog = Catalog()
    editable = (PACKAGE_DIR.parent.parent / "katas").is_dir()
    if not editable:  # an installed wheel carries katas/ and solutions/ inside the package
        assert catalog.katas_dir == PACKAGE_DIR / "_catalog" / "katas"
    for kata in catalog:
        assert (
            kata.suite_path.is_file() and kata.solution_path.is_file() and kata.stub_path.is_file()
        )


def test_listing_and_numpy_grading_never_import_torch(kata_probe, tmp_path):
    listing = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import sys; from kata_runner.cli import main; main(['list']); "
                "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')"
            ),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert listing.stdout.strip().endswith("NO-TORCH")
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import sys\n\ndef double(x):\n    print('torch' in sys.modules)\n    return x\n\n"
        "def total(xs):\n    return sum(xs)\n"
    )
    result = kata_probe("run", "probe", "--file", str(probe), "--json")
    assert result.test("test_double_of_two")["output"].strip() == "False"


# ---------------------------------------------------------------------------------------------
# Bug sets


def edit_bugs(folder: Path, old: str, new: str) -> None:
    path = folder / "bugs.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_probe_bugs_apply_to_the_reference(probe_copy):
    from kata_runner.bugs import load_bugs

    bugs = load_bugs(load(probe_copy))
    assert [b.id for b in bugs] == ["triples", "drops_last"]
    assert "return 3 * x" in bugs[0].source and "return 2 * x" not in bugs[0].source
    assert bugs[1].level == 2 and bugs[1].changed_lines(
        (probe_copy.parent.parent / "solutions" / "probe.py").read_text()
    ) == (18, 18)


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        (
            'old = "    return 2 * x"',
            'old = "    return 4 * x"',
            "bug 'triples': the `old` text of change 1 is not in",
        ),
        ('old = "    return 2 * x"', 'old = "return"', "occurs 2 times"),
        ("level = 2", "level = 3", "a level from 1 to 2"),
        ('id = "triples"', 'id = "drops_last"', "used twice"),
        ('id = "triples"', 'id = "Triples"', "snake_case"),
        ('new = "    return 3 * x"', 'new = "    return 3 * x"\nwhy = "?"', "unknown key 'why'"),
        ('new = "    return 3 * x"', 'new = "    return (3 * x"', "not valid Python"),
        ('new = "    return 3 * x"', 'new = "    return 2 * x"', "leave the reference unchanged"),
        ('new = "    return 3 * x"\n', "", "needs `old` and `new`"),
    ],
)
def test_a_bug_that_does_not_apply_is_a_catalogue_error_naming_it(probe_copy, old, new, complaint):
    from kata_runner.bugs import load_bugs

    edit_bugs(probe_copy, old, new)
    with pytest.raises(CatalogError) as error:
        load_bugs(load(probe_copy))
    assert complaint in str(error.value) and "bugs.toml" in str(error.value)


def test_every_bug_set_in_the_catalogue_loads():
    from kata_runner.bugs import load_bugs

    for kata in Catalog():
        load_bugs(kata)
