"""The operator's side: the `wooerp` command line (ops.cli), the local supervisor that runs a whole
fleet for `make run` (ops.fleet, ops.bootstrap) and the status report. Not the Celery runtime
(that is workers/) and not the domain (connector/)."""
