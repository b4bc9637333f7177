"""`tritonsla bench`: load generation, metrics per SLA class, SLO verdicts and reports.

    prepared = prepare(BenchOptions(Path("deploy/cpu.yaml"), mix="realtime=0.5,batch=0.5",
                                    strategies=(Poisson(4.0),), limits=Limits(duration_s=60)))
    report = asyncio.run(run_benchmark(prepared, progress))
    write_report(report, prepared.objectives, Path("reports/run1"))

Modules, one job each:
- `schedule`: load strategies by name (`concurrent@8`, `poisson@4rps`, …) and the scheduler.
- `workload`: prompts (synthetic with exact token counts, or JSONL), output lengths, class mix.
- `records`, `stats`, `metrics`, `verdict`, `selfcheck`, `summary`: pure measurement.
- `objectives`: each class's SLO from the deployment, `--goodput` overrides.
- `server_stats`: statistics API and Prometheus deltas over a run.
- `sdk`: the routing SDK as the runner's sender; `openai`: an OpenAI-compatible server (the
  gateway) as the sender, streaming over SSE; `runner`: the async orchestrator;
  `benchmark`: typed options -> checked inputs -> a BenchReport (`result`); `progress`: live bars.
- `capacity`: the capacity search (bracket, bisect) over probes, pure; `saturation`: is a
  probe's run sustained and steady, and did it meet the SLOs; `capacity_probe`: probes against a
  server and `find_capacity`.
- `report`: console, JSON, CSV and PNG writers (apart from the metric code), and an export in
  genai-perf's shape and metric names (`report.genai_perf`).
"""
