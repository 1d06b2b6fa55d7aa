"""Every run file of a results folder has one schema, so that DuckDB, polars and pyarrow read the folder's
``runs/*.parquet`` as one table (without DuckDB's union_by_name); the README's DuckDB example runs."""

import re
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import abscopal
from abscopal.config import resolve

README = Path(__file__).resolve().parents[1] / "README.md"


def every_kind_of_arm() -> dict:
    """Arms that differ in what they record: no drug, each drug, radiotherapy, an adjuvant, a new metastasis, the
    conserved circulation."""
    lesion = {"diameter_mm": 1.5, "domain_mm": 3.0}
    return {
        "experiment": {"name": "kinds", "start_day": -1, "end_day": 2, "readout_day": 2, "replicates": 1, "seed": 5},
        "lesions": {"index": lesion, "distant": lesion},
        "arms": {
            "control": {},
            "anti_pd1": {"drugs": {"anti_pd1": {"start_day": 0}}},
            "conserved": {"trafficking": {"circulation": "conserved"}},
            "cryo_anti_ctla4": {"ablation": {"modality": "cryo", "lesion": "index", "day": 0, "margin_mm": 0.5},
                                "drugs": {"anti_ctla4": {"start_day": 0}}},
            "radiotherapy_cpg": {"ablation": {"modality": "radiotherapy", "lesion": "index", "day": 0},
                                 "adjuvant": {"agent": "cpg", "lesion": "index", "day": 0},
                                 "metastases": {"lung": {"day": 1, "diameter_mm": 0.5}}},
        },
    }


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("kinds")
    abscopal.run(resolve(every_kind_of_arm()), out=out, progress=False)
    return out


def test_every_run_file_of_a_folder_has_one_schema(folder):
    files = sorted((folder / "runs").glob("*.parquet"))
    assert len(files) == 5
    schemas = [pq.read_schema(f).remove_metadata() for f in files]
    assert all(schema.equals(schemas[0]) for schema in schemas)  # names, order and types
    table = ds.dataset(folder / "runs", format="parquet").to_table()  # the first file's schema for all
    control = table.filter(ds.field("arm") == "control").filter(ds.field("lesion") == "systemic").to_pandas()
    assert (control["anti_pd1_nm"] == 0).all() and (control["anti_ctla4_occupancy"] == 0).all()
    treated = table.filter(ds.field("arm") == "anti_pd1").filter(ds.field("lesion") == "systemic").to_pandas()
    assert treated["anti_pd1_occupancy"].max() > 0.5


def readme_example() -> str:
    """The README's DuckDB and polars example (the python block after "Query a results folder")."""
    text = README.read_text()
    return re.search(r"Query a results folder.*?```python\n(.*?)```", text, re.S).group(1)


def test_polars_scans_the_folder_as_one_table(folder):
    pl = pytest.importorskip("polars", reason="pip install polars (in '.[test]')")
    files = sorted((folder / "runs").glob("*.parquet"))
    table = pl.scan_parquet(f"{folder}/runs/*.parquet").collect()
    assert table.height == sum(pq.read_metadata(f).num_rows for f in files)
    assert table.columns == pq.read_schema(files[0]).names
    assert set(table["arm"]) == {"control", "anti_pd1", "conserved", "cryo_anti_ctla4", "radiotherapy_cpg"}
    control = table.filter((pl.col("arm") == "control") & (pl.col("lesion") == "systemic"))
    assert (control["anti_ctla4_occupancy"] == 0).all()


def test_the_readmes_duckdb_and_polars_example_reads_the_folder_as_one_table(folder, capsys):
    pytest.importorskip("duckdb", reason="the README's example uses DuckDB: pip install duckdb (in '.[test]')")
    pytest.importorskip("polars", reason="the README's example uses polars: pip install polars (in '.[test]')")
    code = readme_example().replace("results/cryo_checkpoint", str(folder))
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    occupancy = namespace["occupancy"].set_index("arm")["peak_anti_pd1_occupancy"]
    assert occupancy["control"] == 0 and occupancy["anti_pd1"] > 0.5
    burden = namespace["burden"]
    assert set(burden["arm"]) == {"control", "anti_pd1", "conserved", "cryo_anti_ctla4", "radiotherapy_cpg"}
    # polars and DuckDB give the same table
    pd.testing.assert_frame_equal(namespace["burden_pl"].to_pandas(), burden, check_dtype=False)
