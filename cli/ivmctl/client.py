"""ivmweb's REST API over HTTP: a token in the Authorization header, problems (RFC 9457) raised as ``ApiError``."""

from __future__ import annotations

import httpx

from ivmctl import __version__


class ApiError(Exception):
    """The API refused: its problem's title, detail and field errors."""

    def __init__(self, status: int, problem: dict):
        self.status, self.problem = status, problem
        super().__init__(self.text())

    def text(self) -> str:
        p = self.problem
        lines = [f"{p.get('title') or 'Error'} ({self.status}): {p.get('detail') or ''}".rstrip(": ")]
        for error in p.get("errors", []):
            lines.append(f"  {error.get('field') or '-'}: {error.get('detail')}")
        return "\n".join(lines)


class Client:
    def __init__(self, url: str, token: str, timeout: float = 120.0):
        self.http = httpx.Client(base_url=url.rstrip("/") + "/api/v1/", timeout=timeout,
                                 headers={"Authorization": f"Bearer {token}",
                                          "User-Agent": f"ivmctl/{__version__}", "Accept": "application/json"})

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase, "detail": response.text[:500]}
            raise ApiError(response.status_code, problem)
        return response

    def get(self, path: str, **params) -> dict:
        return self._check(self.http.get(path, params={k: v for k, v in params.items() if v is not None})).json()

    def post(self, path: str, body: dict | None = None) -> dict:
        return self._check(self.http.post(path, json=body or {})).json()

    def stream(self, path: str, **params):
        """The body of a GET in chunks of text (exports)."""
        with self.http.stream("GET", path, params={k: v for k, v in params.items() if v is not None}) as response:
            if response.status_code >= 400:
                response.read()
                self._check(response)
            yield from response.iter_text()

    def all_pages(self, path: str, **params) -> list[dict]:
        """Every result of a page-numbered list."""
        results, page = [], 1
        while True:
            body = self.get(path, page=page, page_size=200, **params)
            results += body["results"]
            if not body.get("next"):
                return results
            page += 1
