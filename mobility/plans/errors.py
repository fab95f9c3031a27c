"""The refusal every plan service raises: nothing changed, and the message says why."""


class PlanRefused(Exception):
    """A plan request that must change nothing; the message says why, for the person who asked."""
