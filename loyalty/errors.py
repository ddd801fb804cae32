"""Errors the CLI turns into one line on stderr and a distinct exit code (never a traceback)."""

from ingest.errors import IngestError

# Exit codes a scheduler or monitor can act on.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REJECTED = 3  # --strict and at least one record went to raw.rejected_records
EXIT_LOCKED = 4  # another `loyalty run` holds the lock
EXIT_STALE = 5  # `loyalty status`: a source is older than the freshness threshold


class LoyaltyError(Exception):
    """A failure with a reason a user can act on."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class RunLockedError(LoyaltyError):
    exit_code = EXIT_LOCKED


# Everything the CLI reports as one `error: …` line with the error's exit code.
USER_ERRORS = (LoyaltyError, IngestError)
