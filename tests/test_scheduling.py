"""The suite's own order: the tests that take seconds run first (tests/conftest.py), so that
under pytest-xdist none of them is left for the end while the other workers wait."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RUN_FIRST, run_first_rank

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("prefix", RUN_FIRST)
def test_each_run_first_prefix_still_names_tests(prefix):
    path, _, name = prefix.partition("::")
    assert (ROOT / path).exists(), f"{path} moved: update RUN_FIRST in tests/conftest.py"
    if name:
        assert f"def {name}" in (ROOT / path).read_text(), f"no test {name}… in {path}"


def test_the_long_tests_come_first_in_the_run(request):
    ranks = [run_first_rank(item.nodeid) for item in request.session.items]
    assert ranks == sorted(ranks)


def test_a_test_takes_the_rank_of_its_first_prefix():
    assert run_first_rank("tests/e2e/test_layout.py::test_x") == 0
    module = RUN_FIRST.index("tests/security/test_start_up_checks.py")
    assert run_first_rank("tests/security/test_start_up_checks.py::test_other") == module
    assert run_first_rank("tests/models/test_user.py::test_x") == len(RUN_FIRST)
