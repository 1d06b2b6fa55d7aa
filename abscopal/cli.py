"""The command line: ``abscopal run | sweep | plot | params | validate | view``."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from . import __version__
from .config import ConfigError, load_config, parameter_table, resolve
from .store import FolderError, UnreadableFileWarning

#: Set (to anything but "" or "0") for the full traceback of an error instead of its one line (as --debug).
DEBUG_ENV = "ABSCOPAL_DEBUG"


def _experiment(args):
    config = load_config(args.config, args.set or [])
    if "sweep" in config:
        raise ConfigError(f"{args.config} has a [sweep] table: run it with abscopal sweep (abscopal run runs one experiment)")
    return resolve(config)


def cmd_run(args) -> int:
    from .runner import run

    exp = _experiment(args)
    out = Path(args.out or Path("results") / exp.name)
    res = run(exp, replicates=args.replicates, seed=args.seed, workers=args.workers, out=out, progress=not args.quiet,
              resume=args.resume, force=args.force, executor=args.executor, scheduler=args.scheduler)
    print(f"{exp.name}: {len(res.runs_ok)} runs ok, {len(res.failed)} failed "
          f"in {res.manifest['wall_s']:.0f} s; change in live tumour cells from day of ablation "
          f"to day {res.manifest['settings']['readout_day']:g}:")
    table = res.outcome_table()
    if len(table):
        print(table.to_string())
    for run_ in res.failed:
        print(f"FAILED {run_['arm']} r{run_['replicate']}: {run_['error']}")
    wrote = [f"{out}/manifest.json", f"{out}/runs/ ({len(res.runs_ok)} files)", f"{out}/summary.parquet"]
    if res.runs_ok:  # the command draws the figure it promises (Results draws none)
        from .plots import save_burden_figure

        wrote.append(str(save_burden_figure(res, out / "figures" / "tumour_burden.png")))
    print(f"wrote {', '.join(wrote)}")
    return 1 if res.failed else 0


def cmd_view(args) -> int:
    """Check the config, arm and seed, then serve the live view (``abscopal.app``) on 127.0.0.1 until Ctrl-C."""
    from .build import choose_arm, experiment
    from .config import SECTIONS

    exp = experiment(args.config)
    choose_arm(exp, args.arm)
    if args.seed is not None:
        SECTIONS["experiment"]["seed"].check("--seed", args.seed)
    try:
        import mesa.visualization  # noqa: F401  (solara, altair)
    except ImportError as e:
        raise RuntimeError(f"abscopal view needs Mesa's visualization ({e.name} is missing): "
                           f"pip install 'abscopal[view]'") from None
    os.environ.update({"ABSCOPAL_VIEW_CONFIG": str(Path(args.config).resolve()) if args.config else "",
                       "ABSCOPAL_VIEW_ARM": args.arm or "",
                       "ABSCOPAL_VIEW_SEED": "" if args.seed is None else str(args.seed)})
    print(f"abscopal view: http://127.0.0.1:{args.port}/ (Ctrl-C stops it)", flush=True)
    solara = [sys.executable, "-m", "solara", "run", "abscopal.app", "--host", "127.0.0.1", "--port", str(args.port),
              "--production", "--no-open", "--no-check-version"]
    os.execv(sys.executable, solara)  # the server replaces this process: stopping it stops the server


def port(text: str) -> int:
    """A TCP port (argparse type)."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a port number in [1, 65535]")
    return int(text)


def cmd_params(args) -> int:
    rows = parameter_table()
    if args.format == "tsv":
        print("\t".join(rows[0]))
        for r in rows:
            print("\t".join(r.values()))
        return 0
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in ("key", "unit", "default", "range", "source")}
    print("  ".join(k.ljust(w) for k, w in widths.items()) + "  meaning")
    for r in rows:
        print("  ".join(r[k].ljust(w) for k, w in widths.items()) + "  " + r["meaning"])
    return 0


def cmd_validate(args) -> int:
    if "sweep" in load_config(args.config, args.set or []):
        from .sweep import load_sweep

        sweep = load_sweep(args.config, args.set or [])
        print(f"{args.config}: valid sweep. {len(sweep)} points, {sweep.n_runs} runs")
        _print_memory(sweep.experiments)
        return 0
    exp = _experiment(args)
    s = exp.settings
    print(f"{args.config}: valid. {len(exp.arms)} arms ({', '.join(exp.arms)}), days {s['start_day']:g} to "
          f"{s['end_day']:g}, readout day {s['readout_day']:g}, {s['replicates']} replicates, seed {s['seed']}")
    _print_memory([exp])
    return 0


def _print_memory(experiments) -> None:
    from .memory import available_mb, run_memory_mb

    need = max(run_memory_mb(params) for exp in experiments for params in exp.arms.values())
    print(f"peak memory of a run: about {need:,.0f} MB (estimate); available on this machine: {available_mb():,.0f} MB")


def cmd_plot(args) -> int:
    """Every figure the folder supports; a run file that cannot be read is named on stderr (exit 1)."""
    from .plots import plot_results

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnreadableFileWarning)
        paths = plot_results(args.results_dir, out=args.out, fmt=args.format)
    for path in paths:
        print(path)
    unreadable = [w for w in caught if issubclass(w.category, UnreadableFileWarning)]
    for w in unreadable:
        error(f"left out, unreadable: {w.message}")
    return 1 if unreadable else 0


def cmd_sweep(args) -> int:
    from .sweep import load_sweep

    sweep = load_sweep(args.config, args.set or [])
    name = sweep.experiments[0].name
    out = Path(args.out or Path("results") / name)
    print(f"{name}: {sweep.method} sweep, {len(sweep)} points x {len(sweep.experiments[0].arms)} arms x "
          f"{sweep.replicates} replicates = {sweep.n_runs} runs; axes: {', '.join(sweep.keys) or '(none)'}")
    if args.dry_run:
        print(sweep.points.head(10).to_string(index=False))
        if len(sweep) > 10:
            print(f"... {len(sweep) - 10} more points")
        est = sweep.estimate(workers=args.workers)
        print(f"estimate from one timing run ({est['timed_days']:g} days): {est['per_run_s']:.1f} s per run, about "
              f"{est['total_s'] / 60:.1f} min on {est['workers']} workers")
        return 0
    executor = args.executor or ("dask" if args.scheduler else "process")
    res = sweep.run(out=out, executor=executor, workers=args.workers, scheduler=args.scheduler,
                    resume=args.resume, force=args.force, progress=not args.quiet)
    print(f"{name}: {len(res.runs_ok)} runs ok, {len(res.failed)} failed "
          f"in {res.manifest.get('wall_s', 0):.0f} s")
    for run_ in res.failed[:20]:
        print(f"FAILED {run_['file']}: {run_['error']}")
    print(f"wrote {out}/manifest.json, {out}/points.parquet, {out}/runs/, {out}/summary.parquet")
    return 1 if res.failed else 0


class Parser(argparse.ArgumentParser):
    """argparse with its errors as one line ``abscopal: ...`` (exit 2), not a usage block."""

    def error(self, message: str):
        command = self.prog.removeprefix("abscopal").strip()
        self.exit(2, f"abscopal: {command + ': ' if command else ''}{message} (see {self.prog} --help)\n")


def error(message: str) -> None:
    """One line on stderr: the message of an error, its own line breaks (a library's message) folded."""
    print("abscopal: " + " ".join(line.strip() for line in str(message).splitlines() if line.strip()), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files here: no window, whatever the display
    parser = Parser(prog="abscopal", description=__doc__)
    parser.add_argument("--debug", action="store_true", help=f"the full traceback of an error (or set {DEBUG_ENV}=1)")
    parser.add_argument("--version", action="version", version=f"abscopal {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def config_args(p):
        p.add_argument("config", help="experiment config (TOML)")
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config key, e.g. immune.kill_probability=0.2 (repeatable)")

    def execution_args(p):
        p.add_argument("--out", help="output folder (default results/<experiment name>)")
        p.add_argument("--workers", type=int, help="processes (default: one per core)")
        either = p.add_mutually_exclusive_group()  # keep the finished runs, or clear them: not both
        either.add_argument("--resume", action="store_true", help="run only the missing or failed runs of --out")
        either.add_argument("--force", action="store_true", help="clear --out first if it holds other results")
        p.add_argument("--scheduler", metavar="ADDRESS", help="a running dask scheduler, e.g. tcp://HOST:8786")
        p.add_argument("--quiet", action="store_true", help="no progress bar (runs done, failed, time left)")

    p = sub.add_parser("run", help="run an experiment")
    config_args(p)
    execution_args(p)
    p.add_argument("--seed", type=int, help="override experiment.seed")
    p.add_argument("--replicates", type=int, help="override experiment.replicates")
    p.add_argument("--executor", choices=("serial", "process", "dask"),
                   help="default: serial on one worker, else process (dask with --scheduler)")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("view", help="watch a run live in the browser (a solara app on 127.0.0.1)")
    p.add_argument("config", nargs="?", help="experiment config (TOML; default the packaged experiments/cryo_checkpoint.toml)")
    p.add_argument("--arm", help="the arm shown first (default: the first combining ablation and a drug)")
    p.add_argument("--seed", type=int, help="override experiment.seed")
    p.add_argument("--port", type=port, default=8765, help="port on 127.0.0.1 (default 8765)")
    p.set_defaults(fn=cmd_view)
    p = sub.add_parser("params", help="every parameter: key, unit, default, allowed range, source")
    p.add_argument("--format", choices=("table", "tsv"), default="table")
    p.set_defaults(fn=cmd_params)
    p = sub.add_parser("validate", help="check a config without running it")
    config_args(p)
    p.set_defaults(fn=cmd_validate)
    p = sub.add_parser("plot", help="every figure a results folder supports, and figures/index.md")
    p.add_argument("results_dir", help="an output folder of abscopal run (or a sweep)")
    p.add_argument("--out", help="folder for the figures (default RESULTS_DIR/figures)")
    p.add_argument("--format", choices=("pdf", "svg", "png"), default="png", help="png at 300 dpi, or vector")
    p.set_defaults(fn=cmd_plot)
    p = sub.add_parser("sweep", help="run a parameter sweep (an experiment config plus a [sweep] table)")
    config_args(p)
    execution_args(p)
    p.add_argument("--dry-run", action="store_true", help="print the runs, the first points and a time estimate")
    p.add_argument("--executor", choices=("serial", "process", "dask"), help="default: process (dask with --scheduler)")
    p.set_defaults(fn=cmd_sweep)
    args = parser.parse_args(argv)
    if args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        return args.fn(args)
    try:
        return args.fn(args)
    except FolderError as e:
        error(e)
    except ConfigError as e:
        error(f"config error: {e}")
    except (RuntimeError, OSError) as e:  # dask missing, a file system that refuses
        error(f"{type(e).__name__}: {e}")
    except KeyboardInterrupt:
        print("abscopal: interrupted; finished runs are kept, --resume runs the rest", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: one line, the traceback behind --debug
        error(f"internal error: {type(e).__name__}: {e} (--debug shows the traceback)")
        return 3
    return 2


if __name__ == "__main__":
    sys.exit(main())
