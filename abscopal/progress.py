"""A progress bar for runs and sweeps (tqdm): runs done of all, failed, time left; in a terminal, Jupyter or a log.

In a terminal the bar redraws in place on stderr; in Jupyter it is a widget (tqdm.notebook, when ipywidgets is
installed) or text that Jupyter redraws; written to a file or a pipe (a log, a batch job's output) it becomes
one plain line every :data:`LOG_EVERY_S` seconds and a last one at the end, so a log shows no carriage returns.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

#: Seconds between two lines of progress in a log file (not a terminal).
LOG_EVERY_S = 10.0


class _Lines:
    """A file that turns tqdm's redraws ("\\r" + bar) into lines, for logs that are not terminals."""

    def __init__(self, file):
        self.file = file

    def write(self, text: str) -> None:
        line = text.replace("\r", "").rstrip()
        if line:
            self.file.write(line + "\n")

    def flush(self) -> None:
        self.file.flush()


def _in_notebook() -> bool:
    """Whether this process is a Jupyter kernel."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return bool(shell) and "IPKernelApp" in getattr(shell, "config", {})


def bar(total: int, desc: str, file=None) -> tqdm:
    """A bar of ``total`` runs named ``desc`` on ``file`` (default stderr), its kind chosen by where it is shown;
    :func:`update` it after each finished run."""
    file = file if file is not None else sys.stderr
    options = {"total": total, "desc": desc, "unit": "run", "smoothing": 0}  # time left from the mean run time
    if _in_notebook():
        try:
            import ipywidgets  # noqa: F401 - tqdm.notebook draws with it
            from tqdm.notebook import tqdm as notebook_bar

            return notebook_bar(**options)
        except ImportError:
            return tqdm(file=file, **options)
    if getattr(file, "isatty", lambda: False)():
        return tqdm(file=file, **options)
    return tqdm(file=_Lines(file), ascii=True, ncols=80, mininterval=LOG_EVERY_S, **options)


def update(progress: tqdm, failed: int) -> None:
    """One more run finished; ``failed`` of those so far failed."""
    progress.set_postfix_str(f"{failed} failed", refresh=False)
    progress.update()
