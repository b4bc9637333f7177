"""The main job: SLA endpoints against one one-size-fits-all endpoint, same workload, one report."""
