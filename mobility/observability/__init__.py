"""Operating ivmweb: health and readiness probes, Prometheus metrics, and the log context (request and migration).

* ``logs``: the request id and migration id of what a log line is about (context variables), the filter that stamps
  them on every record, the JSON formatter (``IVMWEB_LOG_FORMAT=json``) and the request-id middleware;
* ``metrics``: every metric ivmweb records in-process, and the one-line helpers the engine, the IVM client and the
  live layer call;
* ``scrape``: what is read from the database at scrape time, and the ``/metrics`` exposition;
* ``health``: the readiness checks; ``views``: ``/healthz``, ``/readyz`` and ``/metrics``.

Nothing here imports a view or the engine: the engine, the live layer and the IVM client call down into it.
"""
