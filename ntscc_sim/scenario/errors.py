"""The one error type for invalid scenarios and arguments (exit code 2)."""


class ScenarioError(ValueError):
    """Invalid scenario: ``key`` is the YAML key path (e.g. ``schemes[1].cbr[0]``)."""

    def __init__(self, key: str, message: str):
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)
