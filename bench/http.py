"""HTTP throughput of POST /v1/ask: a real `qa serve` driven by wrk on loopback, against the query-embedding ceiling.

Indexes the seeds plus rtqa-passages (when ../shared/eval is there) once into .qa/bench/index, starts `qa serve`
(default settings: the bundled model on the ONNX backend, HF_HUB_OFFLINE=1; only the per-IP rate limit is switched
off, as every wrk connection comes from 127.0.0.1), waits for /readyz, then runs wrk (Debian's `wrk`) with
bench/wrk_ask.lua, which rotates through the real rtqa questions, at each --connections count for --duration
seconds. Reports requests/s, p50/p90/p99/max latency, non-2xx and socket errors, and the CPU the server and wrk
used (in cores). Before the server starts and again after it stops, the same embedder alone embeds one question per
call for a few seconds at concurrency 1 and at the number of cores: the query-embedding ceiling (the higher of the
two passes) the /v1/ask rate is compared with; 8 questions per call show what batching would give.
--sustain runs the best setting again for that long; --profile records the server with py-spy meanwhile.

Run from the repository root, one benchmark at a time:
  flock /tmp/qa-bench.lock python -m bench.http --sustain 60 --profile 20 --json bench/results/http.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench import machine, serving  # noqa: E402
from index.embedder import Embedder  # noqa: E402

LUA_SCRIPT = Path(__file__).resolve().parent / "wrk_ask.lua"
GOAL_RPS, GOAL_P99_MS, GOAL_SECONDS, GOAL_CEILING_SHARE = 100.0, 150.0, 60.0, 0.6


def write_bodies(questions: list[str], folder: Path) -> Path:
    """One /v1/ask JSON body a line, for the wrk script."""
    path = folder / "ask-bodies.jsonl"
    path.write_text("".join(json.dumps({"question": question}) + "\n" for question in questions), encoding="utf-8")
    return path


def embedding_rate(embedder: Embedder, questions: list[str], workers: int, batch: int, seconds: float) -> dict[str, Any]:
    """Questions/s (and per CPU second) when `workers` threads each embed `batch` questions per call for `seconds`."""
    deadline = time.perf_counter() + seconds
    durations: list[list[float]] = [[] for _ in range(workers)]

    def work(worker: int) -> None:
        position = worker * batch
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            embedder.embed([questions[(position + offset) % len(questions)] for offset in range(batch)])
            durations[worker].append(time.perf_counter() - started)
            position += workers * batch

    started, cpu_started = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, range(workers)))
    calls = [duration for worker in durations for duration in worker]
    return {"concurrency": workers, "batch": batch,
            "questions_per_s": round(len(calls) * batch / (time.perf_counter() - started), 1),
            "questions_per_cpu_s": round(len(calls) * batch / (time.process_time() - cpu_started), 1),
            "p50_ms": round(statistics.median(calls) * 1000, 2), "calls": len(calls)}


def query_embedder() -> Embedder:
    """The embedder `qa serve` loads with default settings (model and backend)."""
    from index.backends import make_embedder
    from qa.config import Settings

    defaults = Settings.model_fields
    return make_embedder(defaults["model"].default, defaults["embed_backend"].default)


def query_embedding_ceiling(embedder: Embedder, questions: list[str], seconds: float, when: str) -> list[dict[str, Any]]:
    """The embedder alone: one question per call in one thread and in one per core, then 8 per call for comparison."""
    embedder.embed(questions[:32])
    cases = [(1, 1), (len(os.sched_getaffinity(0)), 1), (1, 8)]
    rows = [{"when": when, **embedding_rate(embedder, questions, workers, batch, seconds)} for workers, batch in cases]
    for row in rows:
        print(f"query embedding alone ({when} the server), concurrency {row['concurrency']}, batch {row['batch']}: "
              f"{row['questions_per_s']} questions/s ({row['questions_per_cpu_s']} per CPU second, "
              f"p50 {row['p50_ms']} ms a call)", flush=True)
    return rows


def ceiling_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The highest one-question-per-call rate measured (the issue's ceiling; batched calls are for comparison)."""
    return max((row for row in rows if row["batch"] == 1), key=lambda row: row["questions_per_s"])


def run_wrk(served: serving.Served, bodies: Path, connections: int, seconds: float, threads: int) -> dict[str, Any]:
    """One wrk run: its summary, plus the CPU the server and wrk used and the load average around it."""
    command = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
               "--latency", "-s", str(LUA_SCRIPT), f"{served.base_url}/v1/ask", "--", str(bodies)]
    load_before, server_before, busy_before = machine.load_average(), serving.cpu_seconds(served.pid), serving.machine_busy_seconds()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("WRK_SUMMARY ")).split(" ", 1)[1])
    wrk_cpu = children.ru_utime + children.ru_stime - children_before.ru_utime - children_before.ru_stime
    server_cpu = serving.cpu_seconds(served.pid) - server_before
    other_cpu = serving.machine_busy_seconds() - busy_before - server_cpu - wrk_cpu
    return row_from_summary(summary, connections, {
        "server_cpu_cores": round(server_cpu / wall, 2), "other_cpu_cores": round(other_cpu / wall, 2),
        "requests_per_server_cpu_s": round(summary["requests"] / max(server_cpu, 1e-9), 1),
        "wrk_cpu_cores": round(wrk_cpu / wall, 2), "load_before": load_before, "load_after": machine.load_average(),
    })


def row_from_summary(summary: dict[str, Any], connections: int, extra: dict[str, Any]) -> dict[str, Any]:
    """Requests/s, latency percentiles in ms and error counts from the wrk script's summary."""
    seconds = summary["duration_us"] / 1e6
    return {
        "connections": connections, "seconds": round(seconds, 1), "requests": summary["requests"],
        "requests_per_s": round(summary["requests"] / seconds, 1),
        **{f"{name}_ms": round(summary[f"{name}_us"] / 1000, 1) for name in ("p50", "p90", "p99", "max")},
        "non_2xx": summary["status"],
        "socket_errors": sum(summary[kind] for kind in ("connect", "read", "write", "timeout")),
        **extra,
    }


def sweep(served: serving.Served, bodies: Path, connections: list[int], seconds: float, threads: int) -> list[dict[str, Any]]:
    """wrk at each connection count, after a short warm-up."""
    run_wrk(served, bodies, 2, 5, threads)
    rows = []
    for count in connections:
        rows.append({"setting": "sweep", **run_wrk(served, bodies, count, seconds, threads)})
        print_row(rows[-1])
    return rows


def best_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the most requests/s among those without errors (any run if all had errors)."""
    clean = [row for row in rows if not row["non_2xx"] and not row["socket_errors"]]
    return max(clean or rows, key=lambda row: row["requests_per_s"])


def profile(served: serving.Served, bodies: Path, connections: int, seconds: float, threads: int, out: Path) -> dict[str, Any]:
    """wrk at `connections` while py-spy samples the server; the run and the profile's heaviest functions."""
    command = ["py-spy", "record", "--pid", str(served.pid), "--duration", f"{seconds:g}", "--rate", "100",
               "--format", "raw", "--output", str(out), "--nonblocking"]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        row = {"setting": "profiled", **run_wrk(served, bodies, connections, seconds, threads)}
        spy.wait(timeout=seconds + 60)
    finally:
        if spy.poll() is None:
            spy.kill()
            spy.wait()
    print_row(row)
    return {"run": row, "collapsed_stacks": str(out), **summarise_profile(out)}


def summarise_profile(collapsed: Path, top: int = 25) -> dict[str, Any]:
    """Share of the server's non-idle samples in each function (inclusive) and at the top of the stack (self)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(encoding="utf-8").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [frame_name(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return {"samples": total, "inclusive": shares(inclusive, total, top), "self": shares(own, total, top)}


def shares(counter: Counter[str], total: int, top: int) -> list[dict[str, Any]]:
    """The `top` commonest functions with their share of all samples."""
    return [{"function": name, "share": round(count / max(total, 1), 3)} for name, count in counter.most_common(top)]


def frame_name(frame: str) -> str:
    """`function (path:line)` as `function (file)`: one entry per function, whatever the line."""
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.rstrip(')').rsplit(':', 1)[0]).name})" if where else name


def goals(row: dict[str, Any], ceiling: dict[str, float]) -> dict[str, Any]:
    """The issue's goals for one run: rate, p99, errors, duration, and the share of the query-embedding ceiling
    (also per CPU second, which a machine shared with other jobs does not skew)."""
    share = row["requests_per_s"] / ceiling["questions_per_s"]
    share_per_cpu = row["requests_per_server_cpu_s"] / ceiling["questions_per_cpu_s"]
    checks = {
        f"requests/s >= {GOAL_RPS:g}": row["requests_per_s"] >= GOAL_RPS,
        f"p99 <= {GOAL_P99_MS:g} ms": row["p99_ms"] <= GOAL_P99_MS,
        "zero errors": not row["non_2xx"] and not row["socket_errors"],
        f"held >= {GOAL_SECONDS:g} s": row["seconds"] >= GOAL_SECONDS - 1,
        f">= {GOAL_CEILING_SHARE:.0%} of the ceiling": share >= GOAL_CEILING_SHARE,
    }
    return {"run": row["setting"], "connections": row["connections"], "share_of_ceiling": round(share, 3),
            "share_of_ceiling_per_cpu_s": round(share_per_cpu, 3), "checks": checks, "met": all(checks.values())}


def print_row(row: dict[str, Any]) -> None:
    """One run as it finishes."""
    print(f"  {row['setting']:<9} c={row['connections']:<3} {row['requests_per_s']:7.1f} req/s  p50 {row['p50_ms']:6.1f} ms  "
          f"p99 {row['p99_ms']:6.1f} ms  non-2xx {row['non_2xx']}  socket errors {row['socket_errors']}  "
          f"server {row['server_cpu_cores']} cores, others {row['other_cpu_cores']}", flush=True)


def print_table(rows: list[dict[str, Any]], ceiling: list[dict[str, Any]], verdict: dict[str, Any]) -> None:
    """The runs, the ceiling and the goals as Markdown."""
    print("\n| run | connections | s | requests | requests/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | socket errors "
          "| server CPU (cores) | requests per server CPU s | wrk CPU (cores) | other CPU (cores) | 1-min load |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['setting']} | {row['connections']} | {row['seconds']} | {row['requests']} | {row['requests_per_s']} | "
              f"{row['p50_ms']} | {row['p90_ms']} | {row['p99_ms']} | {row['max_ms']} | {row['non_2xx']} | "
              f"{row['socket_errors']} | {row['server_cpu_cores']} | {row['requests_per_server_cpu_s']} | "
              f"{row['wrk_cpu_cores']} | {row['other_cpu_cores']} | {row['load_before'][0]} |")
    print("\n| query embedding alone | concurrency | questions per call | questions/s | per CPU s | p50 ms a call |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in ceiling:
        print(f"| {row['when']} the server | {row['concurrency']} | {row['batch']} | {row['questions_per_s']} | "
              f"{row['questions_per_cpu_s']} | {row['p50_ms']} |")
    checks = ", ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in verdict["checks"].items())
    print(f"\ngoals on the {verdict['run']} run (c={verdict['connections']}; {verdict['share_of_ceiling']:.0%} of the "
          f"ceiling, {verdict['share_of_ceiling_per_cpu_s']:.0%} per CPU second): {checks}")


def print_profile(summary: dict[str, Any]) -> None:
    """The heaviest functions of the profile, inclusive and self."""
    for kind in ("inclusive", "self"):
        print(f"\nprofile, {kind} (share of the server's {summary['samples']} non-idle samples):")
        for entry in summary[kind]:
            print(f"  {entry['share']:6.1%}  {entry['function']}")


def parse_arguments() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", default="1,2,4,8,16", help="wrk connection counts, comma-separated.")
    parser.add_argument("--duration", type=float, default=30.0, help="Seconds per connection count.")
    parser.add_argument("--sustain", type=float, default=0.0, help="Then run the best setting this long (the goal: 60).")
    parser.add_argument("--profile", type=float, default=0.0, help="Then profile the server with py-spy this long.")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (one keeps a core for the server).")
    parser.add_argument("--ceiling-seconds", type=float, default=8.0, help="Seconds per query-embedding measurement.")
    serving.add_common_options(parser)
    return parser.parse_args()


def measure_server(arguments: argparse.Namespace, index_dir: Path, questions: list[str]) -> dict[str, Any]:
    """Start `qa serve`, sweep the connection counts, then sustain and profile the best one as asked."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="qa-http-bench-") as scratch, \
            serving.serve(index_dir, arguments.cache_dir / "serve.log", settings=serving.server_settings(arguments.server_setting)) as served:
        bodies = write_bodies(questions, Path(scratch))
        results["serve_ready_s"] = round(served.ready_seconds, 2)
        print(f"serve ready s: {served.ready_seconds:.2f} ({served.base_url}, pid {served.pid})", flush=True)
        connections = [int(count) for count in arguments.connections.split(",")]
        rows = sweep(served, bodies, connections, arguments.duration, arguments.wrk_threads)
        best = best_row(rows)
        if arguments.sustain:
            rows.append({"setting": "sustained",
                         **run_wrk(served, bodies, best["connections"], arguments.sustain, arguments.wrk_threads)})
            print_row(rows[-1])
        if arguments.profile:
            out = arguments.cache_dir / "profile.collapsed.txt"
            results["profile"] = profile(served, bodies, best["connections"], arguments.profile, arguments.wrk_threads, out)
    return {**results, "runs": rows, "best": best}


def main() -> None:
    """Index, measure the ceiling, serve and measure every setting; print the table, and write it with --json."""
    arguments = parse_arguments()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    started = time.perf_counter()
    index_dir = serving.ensure_index(arguments.cache_dir, serving.corpus_sources(arguments.corpus))
    questions = serving.load_questions(arguments.questions)
    quiet = machine.wait_for_quiet(arguments.max_load, arguments.patience)
    description = machine.describe()
    print(f"machine: {description}  (quiet: {quiet}); {len(questions)} questions", flush=True)
    embedder = query_embedder()
    ceiling = query_embedding_ceiling(embedder, questions, arguments.ceiling_seconds, "before")
    results = {"machine": description, "quiet_at_start": quiet, "questions": len(questions), "index_dir": str(index_dir),
               "server_settings": serving.server_settings(arguments.server_setting),
               **measure_server(arguments, index_dir, questions)}
    ceiling += query_embedding_ceiling(embedder, questions, arguments.ceiling_seconds, "after")
    results.update(query_embedding=ceiling, ceiling=(best_ceiling := ceiling_of(ceiling)))
    rows = results["runs"]
    results["goals"] = verdict = goals(rows[-1] if arguments.sustain else results["best"], best_ceiling)
    results.update(seconds=round(time.perf_counter() - started, 1), load_average_end=machine.load_average())
    print(f"\nserve ready s: {results['serve_ready_s']}")
    print_table([*rows, *([results["profile"]["run"]] if "profile" in results else [])], ceiling, verdict)
    if "profile" in results:
        print_profile(results["profile"])
    if arguments.json:
        machine.write_results(arguments.json, results)


if __name__ == "__main__":
    main()
