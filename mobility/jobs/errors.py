"""The failure of a job, for the person who asked: the words to show, and what the page may show with them."""


class JobFailed(Exception):
    def __init__(self, message: str, result: dict | None = None):
        super().__init__(message)
        self.result = result or {}
