"""The one error ingest raises on purpose: a reason a user can act on, printed as one line (never a traceback)."""

EXIT_FAILED = 1


class IngestError(Exception):
    """Loading or fetching source data failed for a reason the message states."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
