"""tritonsla.engines: TensorRT-LLM engine builds per SLA profile (`tritonsla engines`).

facts (flags of the pinned release, validate_argv) -> plan (pure: deployment -> EnginePlan
list, types in steps) -> runner (subprocesses, logs, progress; tools finds the programs,
manifest skips unchanged builds, folders installs complete ones atomically).
"""
