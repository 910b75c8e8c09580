"""Runs one benchmark job on Dagster and prints one JSON line with its submit-to-result wall time.

    .venv/bin/python run.py --job letters
    .venv/bin/python run.py --job fanout2000 [--keys N] [--max-concurrent K] [--executor in_process]

The job runs with Dagster's default executor (multi_or_in_process_executor, which is the
multiprocess executor when a reconstructable job runs on a persistent instance: one spawned Python
process per step, at most ``max_concurrent`` at a time, default os.cpu_count()) on a throwaway
persistent instance: DAGSTER_HOME is a fresh temporary directory (sqlite run/event storage, local
compute logs, fs_io_manager outputs) removed afterwards.

With ``--executor in_process`` it runs as Dagster's fastest in-process path instead: ``execute_in_process``
(every step in this process, one after the other, outputs in memory, an ephemeral instance).

``seconds`` is the wall time of ``execute_job`` / ``execute_in_process`` alone: from submitting the run until it has finished
(instance creation before, and result loading/verification after, are excluded). The result is then
read back through the IO manager and checked; a failed run or a wrong value exits non-zero.

Stdout carries only the JSON line; Dagster's own logs go to stderr (or nowhere with --quiet).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

LETTERS_EXPECTED = [chr(i).upper() for i in range(ord("a"), ord("z") + 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job", required=True, choices=["letters", "fanout2000"])
    parser.add_argument("--keys", type=int, default=None, help="fanout2000 only: number of mapped keys (default 2000)")
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=None,
        help="multiprocess executor's max_concurrent (default: Dagster's own default, os.cpu_count())",
    )
    parser.add_argument(
        "--executor",
        choices=["multiprocess", "in_process"],
        default="multiprocess",
        help="multi_or_in_process_executor's mode (default multiprocess, Dagster's default for a persistent instance)",
    )
    parser.add_argument("--quiet", action="store_true", help="console logger at CRITICAL (the event log is still stored)")
    args = parser.parse_args()

    if args.job == "letters" and args.keys not in (None, 26):
        parser.error("--keys applies to fanout2000 only (letters always has 26 keys, a..z)")
    if args.keys is not None and args.keys < 1:
        parser.error("--keys must be >= 1")

    home = tempfile.mkdtemp(prefix="dagster-bench-")
    try:
        # Before importing dagster: the instance and every spawned step process read DAGSTER_HOME.
        os.environ["DAGSTER_HOME"] = home
        # Step processes rebuild the job by importing module `jobs`, which dagster resolves from the
        # working directory: run from this directory (and export it on PYTHONPATH) wherever we were called.
        os.chdir(HERE)
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [HERE, os.environ.get("PYTHONPATH")] if p)
        with open(os.path.join(home, "dagster.yaml"), "w") as f:
            f.write("telemetry:\n  enabled: false\n")
        return run(args, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(args: argparse.Namespace, home: str) -> int:
    import dagster as dg

    import jobs

    if args.job == "letters":
        job_def = jobs.dynamic_graph
        keys = 26
        run_config: dict = {}
    else:
        job_def = jobs.fanout
        keys = args.keys if args.keys is not None else jobs.DEFAULT_FANOUT_KEYS
        run_config = {"ops": {"fan_out": {"config": {"n": keys}}}}

    if args.executor == "in_process" and args.max_concurrent is not None:
        print("--max-concurrent applies to the multiprocess executor only", file=sys.stderr)
        return 2
    multiprocess_config: dict = {}
    if args.max_concurrent is not None:
        multiprocess_config["max_concurrent"] = args.max_concurrent
    if multiprocess_config:
        run_config["execution"] = {"config": {"multiprocess": multiprocess_config}}
    if args.quiet:
        run_config["loggers"] = {"console": {"config": {"log_level": "CRITICAL"}}}
    max_concurrent = (
        1
        if args.executor == "in_process"
        else args.max_concurrent or int(os.getenv("DAGSTER_MULTIPROCESS_EXECUTOR_MAX_CONCURRENT") or os.cpu_count() or 1)
    )

    if args.executor == "in_process":
        # Dagster's fastest way to run a job in one process: execute_in_process (the in-process executor, the
        # in-memory IO manager and an ephemeral instance), as a user would for speed.
        instance = dg.DagsterInstance.ephemeral()
        load_before = os.getloadavg()
        started = time.perf_counter()
        result = job_def.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)
        seconds = time.perf_counter() - started
        load_after = os.getloadavg()
        value, expected_steps, problem = verify(args, result, keys)
    else:
        recon = dg.reconstructable(job_def)
        with dg.DagsterInstance.get() as instance:
            load_before = os.getloadavg()
            started = time.perf_counter()
            with dg.execute_job(recon, instance=instance, run_config=run_config) as result:
                seconds = time.perf_counter() - started
                load_after = os.getloadavg()
                value, expected_steps, problem = verify(args, result, keys)
    if problem:
        print(problem, file=sys.stderr)
        return 1

    line = {
        "system": "dagster",
        "job": args.job,
        "keys": keys,
        "seconds": round(seconds, 3),
        "result": value,
        "dagster_version": dg.__version__,
        "executor": args.executor,
        "max_concurrent": max_concurrent,
        "steps": expected_steps,
        # 1-minute load average when the run was submitted and when it finished (machine contention).
        "loadavg_1m": [round(load_before[0], 2), round(load_after[0], 2)],
    }
    print(json.dumps(line), flush=True)
    return 0


def verify(args: argparse.Namespace, result, keys: int):
    """The result value, the expected number of successful steps, and what is wrong (None when all is well)."""
    import jobs

    expected_steps = keys + 2
    if not result.success:
        failures = [f"{e.step_key}: {e.message}" for e in result.all_events if e.is_step_failure or e.is_failure]
        return None, expected_steps, f"dagster run {result.run_id} failed: {failures}"
    executed = {e.step_key for e in result.all_events if e.is_step_success}
    if args.job == "letters":
        pieces = result.output_for_node("compute_piece")  # {mapping_key: value}
        value = [pieces[k] for k in sorted(pieces)]
        merged = result.output_for_node("merge_and_analyze")
        ok = value == LETTERS_EXPECTED and merged is None
        expected: object = LETTERS_EXPECTED
    else:
        value = result.output_for_node("total")
        expected = jobs.fanout_expected(keys)
        ok = value == expected
    if len(executed) != expected_steps:
        return value, expected_steps, f"expected {expected_steps} successful steps, saw {len(executed)}"
    if not ok:
        return value, expected_steps, f"wrong result: expected {expected!r}, got {value!r}"
    return value, expected_steps, None


if __name__ == "__main__":
    sys.exit(main())
