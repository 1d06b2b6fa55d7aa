"""What a package people cite needs: one version everywhere, a licence, a citation, a changelog, true bounds."""

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import abscopal

ROOT = Path(__file__).resolve().parent.parent


def test_version_is_one_number_in_the_package_its_metadata_the_cli_and_the_citation():
    done = subprocess.run([sys.executable, "-m", "abscopal.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"abscopal {abscopal.__version__}", done
    assert metadata.version("abscopal") == abscopal.__version__
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(rf"^version: {re.escape(abscopal.__version__)}$", citation, re.M)


def test_licence_is_an_spdx_string_with_its_file_and_the_citation_agrees():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(r"^cff-version: 1\.2\.0$", citation, re.M) and re.search(r"^license: MIT$", citation, re.M)
    assert re.search(r"^date-released: \d{4}-\d\d-\d\d$", citation, re.M)
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()


def test_scipy_lower_bound_has_the_rng_keyword_of_the_qmc_samplers():
    from scipy.stats import qmc

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    scipy = next(d for d in project["dependencies"] if d.startswith("scipy"))
    assert scipy == "scipy>=1.15"  # 1.14 has seed= only (the sweeps call qmc.Sobol(..., rng=))
    qmc.Sobol(2, rng=1), qmc.LatinHypercube(2, rng=1)


def test_a_wheel_ships_the_default_experiment_and_the_model_finds_it_there(tmp_path):
    """Built from the package alone (no experiments/ beside it), imported from the wheel: AbscopalModel() and
    `abscopal view` find the default experiment through importlib.resources."""
    import shutil
    import zipfile

    source = tmp_path / "source"
    shutil.copytree(ROOT / "abscopal", source / "abscopal", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path),
                            str(source)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(tmp_path.glob("abscopal-*.whl"))
    assert "abscopal/cryo_checkpoint.toml" in zipfile.ZipFile(wheel).namelist()
    code = (f"import sys; sys.path.insert(0, {str(wheel)!r}); import abscopal.build as b; "
            "assert b.__file__.startswith(sys.path[0]), b.__file__; print(b.experiment(None).settings['name'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "cryo_checkpoint", done.stderr[-2000:]
