"""The rehearsal tests use the engine tests' estate: the demo fleet (the "real" IVMs) registered and synced."""

from tests.engine.conftest import estate, fleet  # noqa: F401  (fixtures)
