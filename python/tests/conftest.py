import json
from pathlib import Path

import pytest

# The crate's golden cases (mpmath, 40 digits), shared with tests/golden.rs.
GOLDEN = Path(__file__).resolve().parents[2] / "tests" / "data" / "golden.json"


@pytest.fixture(scope="session")
def golden_cases():
    return json.loads(GOLDEN.read_text())["cases"]
