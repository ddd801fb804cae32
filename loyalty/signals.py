"""A stop request (SIGTERM from systemd, Docker or CI; SIGINT from Ctrl+C) ends every command cleanly.

Both raise `Stopped` in the main thread. It is a SystemExit (exit code 128 + the signal number), so no
`except Exception` swallows it, the CLI framework passes it through, dbt cancels its threads as for Ctrl+C,
and whatever cleans up on the way out runs: the run records itself as failed, the pull's lock and atomic
files, the dashboards' child process. Jobs (`run`, `ingest`, `pull`, `demo` before it serves) stop where
they are and exit 143 (SIGTERM) or 130 (SIGINT) with `error: stopped by SIGTERM`; services (`serve`,
`receive`, `demo` once serving) shut down and exit 0.
"""

from __future__ import annotations

import signal


class Stopped(SystemExit):
    """A stop was requested by a signal."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signal_name = signal.Signals(signum).name

    def __str__(self) -> str:
        return f"stopped by {self.signal_name}"


def _raise_stopped(signum, frame) -> None:
    raise Stopped(signum)


def stop_on_sigterm_and_sigint() -> None:
    """From now on SIGTERM and SIGINT raise Stopped in the main thread."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_stopped)
