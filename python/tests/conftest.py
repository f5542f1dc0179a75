"""Paths for the tests: the shared data (DCTR_DATA_DIR), the built `deepctr` program
(DCTR_BIN_DIR) and a temp directory; CTest sets all of them (tests/CMakeLists.txt)."""
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


@pytest.fixture(scope="session")
def data_dir():
    d = os.environ.get("DCTR_DATA_DIR", os.path.join(ROOT, "..", "shared", "data"))
    if not os.path.isdir(os.path.join(d, "deepctr-samples")):
        pytest.skip("shared data not found (set DCTR_DATA_DIR)")
    return d


@pytest.fixture(scope="session")
def cli():
    b = os.path.join(os.environ.get("DCTR_BIN_DIR", os.path.join(ROOT, "build")), "deepctr")
    if not os.access(b, os.X_OK):
        pytest.skip("deepctr program not built (set DCTR_BIN_DIR)")
    return b
