"""Fixtures of the API tests: personal tokens per persona, and the governance tests' small estate of two teams."""

import pytest

from tests.governance import conftest as governance
from tests.governance.conftest import make_request

estate = governance.estate  # app01, app02, db01 (Payments), ana01 (Analytics) on Server-A/B/C, no IVM behind them


def token_for(user, scope: str = "write", days: int = 30) -> str:
    from mobility.api import tokens

    return tokens.create(user, name=f"{user.username}-{scope}", scope=scope, days=days).secret


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def requests_of_both_teams(estate, personas):
    """rita's pending request for app01 (Payments) and omar's for ana01 (Analytics)."""
    return (make_request(estate.app01, personas["rita"], estate.b),
            make_request(estate.ana01, personas["omar"], estate.b))
