"""The runner's one error type (monitor and runner both raise it)."""


class RunnerError(RuntimeError):
    """The graph could not be started (missing parameter file, lifecycle transition refused, ...)."""
