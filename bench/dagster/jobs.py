"""Dagster jobs for benchmark 4 ("Dagster side by side"), run by run.py with Dagster's default executor.

Both jobs live at module scope so ``dagster.reconstructable`` can rebuild them in the step processes
that the multiprocess executor spawns (one process per step).

(a) ``dynamic_graph``: the seed's letters job, verbatim
    (shared/seeds/example-dynamic-outputs-vs-python-parallelism.txt, Solution 1 "dynamic outputs",
    src/project_mini/defs/dynamic_vs_parallel/dynamic_outputs.py): ``load_pieces`` yields one
    DynamicOutput per letter a..z, ``compute_piece`` sleeps 1 s and upper-cases its letter (26 mapped
    steps), ``merge_and_analyze`` receives the collected list and returns None.

(b) ``fanout``: a fan-out of N trivial mapped steps (N = 2,000 by default, op config ``n``):
    ``fan_out`` yields DynamicOutput(i, mapping_key=str(i)) for i in 0..N-1, ``add_one`` returns
    x + 1, ``total`` sums the collected list, so the job's result is N * (N + 1) / 2.
"""

import time

import dagster as dg

# ---------------------------------------------------------------------------------------------
# (a) The seed's letters job (dynamic outputs version), as the seed writes it.
# ---------------------------------------------------------------------------------------------


@dg.op(out=dg.DynamicOut())
def load_pieces(context: dg.OpExecutionContext):
    pieces_to_process = [chr(i) for i in range(ord("a"), ord("z") + 1)]  # list a-z
    context.log.info(f"Will process... {pieces_to_process}")

    # creates an output per letter, chunking is also possible
    for piece in pieces_to_process:
        yield dg.DynamicOutput(piece, mapping_key=piece)


@dg.op
def compute_piece(piece_to_compute: str):
    time.sleep(1)
    return piece_to_compute.upper()


@dg.op
def merge_and_analyze(context: dg.OpExecutionContext, computed_pieces: list[str]):
    context.log.info(f"Finished processing, result is ... {computed_pieces}")
    return


@dg.job
def dynamic_graph():
    pieces = load_pieces()
    results = pieces.map(compute_piece)
    merge_and_analyze(results.collect())


# ---------------------------------------------------------------------------------------------
# (b) N-key fan-out with trivial work per key.
# ---------------------------------------------------------------------------------------------

DEFAULT_FANOUT_KEYS = 2000


class FanOutConfig(dg.Config):
    n: int = DEFAULT_FANOUT_KEYS


@dg.op(out=dg.DynamicOut(int))
def fan_out(config: FanOutConfig):
    for i in range(config.n):
        yield dg.DynamicOutput(i, mapping_key=str(i))


@dg.op
def add_one(x: int) -> int:
    return x + 1


@dg.op
def total(values: list[int]) -> int:
    return sum(values)


@dg.job
def fanout():
    total(fan_out().map(add_one).collect())


def fanout_expected(n: int) -> int:
    """sum(i + 1 for i in range(n))."""
    return n * (n + 1) // 2


defs = dg.Definitions(jobs=[dynamic_graph, fanout])
