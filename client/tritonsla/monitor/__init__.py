"""`tritonsla monitor`: a live view of a running deployment, per SLA class.

Data flow (all pure except `sources`):
- `scrape`: Prometheus text -> `Scrape` (every sample, keyed by name and labels);
- `window`: two scrapes -> counter deltas, rates and histogram quantiles over the interval
  between them, and `ScrapeHistory`, which keeps the scrapes of a sliding window;
- `view`: the deployment's classes and objectives + the window -> `MonitorView` (per class
  rates, latency quantiles against the SLO, queues), with a JSON form for scripts;
- `screen`: `MonitorView` -> a rich renderable;
- `sources`: fetching the gateway's and Triton's `/metrics` (the I/O edge).
"""
