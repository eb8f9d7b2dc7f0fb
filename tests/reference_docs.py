"""Where the tests find the public API documents they check against (`tests/reference/`)."""
from __future__ import annotations

from pathlib import Path

REFERENCE = Path(__file__).resolve().parent / "reference"
ST_OPENAPI = REFERENCE / "servicetitan" / "openapi"
ST_SAMPLES = REFERENCE / "servicetitan" / "samples"
SYSPRO_SAMPLES = REFERENCE / "syspro" / "samples"
SYSPRO_FIELD_REFERENCE = REFERENCE / "syspro" / "bo-field-reference.md"
