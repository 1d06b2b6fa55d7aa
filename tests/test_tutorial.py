"""docs/tutorial.ipynb runs from top to bottom, as a reader would run it from docs/ (about a minute on one core)."""

from pathlib import Path

import pytest

NEEDS = "the tutorial test needs nbformat, nbclient and ipykernel: pip install -e '.[test]'"
nbformat = pytest.importorskip("nbformat", reason=NEEDS)
nbclient = pytest.importorskip("nbclient", reason=NEEDS)
pytest.importorskip("ipykernel", reason=NEEDS)

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_tutorial_notebook_runs_and_shows_what_it_says():
    nb = nbformat.read(DOCS / "tutorial.ipynb", as_version=4)
    assert not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")  # committed without outputs
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(DOCS)}}).execute()
    text = "\n".join(out.get("text", "") + out.get("data", {}).get("text/plain", "")
                     for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
    text += "\n".join(widget_texts(nb))  # where ipywidgets is installed the bar is a widget: its last state
    assert "immune.kill_probability = 7.0: expected a value in [0, 1]" in text  # with_params refuses, in one line
    assert "4/4" in text and "0 failed" in text, widget_texts(nb)  # the progress bar
    assert "figure.pdf" in text
    assert "volume_change_pct" in text and "abscopal_responder" in text


def widget_texts(nb) -> list[str]:
    """The last values of the notebook's HTML widgets (a tqdm bar in Jupyter with ipywidgets is one), figure spaces
    (tqdm pads with U+2007) as spaces."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [str(w["state"].get("value", "")).replace("\u2007", " ")
            for w in state.values() if w.get("model_name") == "HTMLModel"]


def test_figures_show_in_jupyter_after_a_paper_figure_as_seaborns_do(monkeypatch):
    """A cell that ends with a figure assigned shows it (the inline backend), for the package's figures and for the
    user's own after them: the paper style's context leaves matplotlib's interactive flag as the backend set it.
    The kernel starts without MPLBACKEND, as a user's does (the CLI, run in-process by earlier tests, sets it to Agg
    for its own figure files, and the kernel would inherit it)."""
    monkeypatch.delenv("MPLBACKEND", raising=False)
    cells = ["from abscopal import plots\nfig, panels = plots.paper_figure('ab', width='one-column')",
             "fig, panels = plots.paper_figure('a', width='one-column')",
             "import seaborn as sns\ngrid = sns.relplot(x=[1, 2, 3], y=[3, 1, 2])",
             "import matplotlib as mpl\nprint(mpl.rcParams['font.size'])"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    shown = [any("image/png" in out.get("data", {}) for out in cell.outputs) for cell in nb.cells[:3]]
    assert shown == [True, True, True]
    assert nb.cells[3].outputs[0]["text"].strip() == "10.0"  # the paper style's 7 pt stayed in its context
