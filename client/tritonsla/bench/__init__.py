"""`tritonsla bench`: load generation, metrics per SLA class, SLO verdicts and reports.

Modules, one job each:
- `schedule`: load strategies by name (`concurrent@8`, `poisson@4rps`, …) and the scheduler.
- `workload`: prompts (synthetic with exact token counts, or JSONL), output lengths, class mix.
- `records`, `stats`, `metrics`, `verdict`, `selfcheck`, `summary`: pure measurement.
- `objectives`: each class's SLO from the deployment, `--goodput` overrides.
- `server_stats`: statistics API and Prometheus deltas over a run.
- `sdk`: the routing SDK as the runner's sender; `runner`: the async orchestrator.
- `report`: console, JSON, CSV and PNG writers (apart from the metric code).
"""
