"""Sustained load on POST /v1/ask: a constant request rate for minutes, with latency, errors and memory per window.

Starts `qa serve` as bench/http.py does (same cached index, default settings, rate limit off), then Locust (the
`bench` extra; bench/locustfile.py, FastHttpUser users on one evenly spaced schedule) sends --rate requests a second
for --duration seconds, rotating through the rtqa questions. Every request is recorded; the server's resident
memory (VmRSS) and CPU are sampled every --sample-every seconds. Reports p50/p99, errors and the rate achieved in
each --window, and RSS at the start, the end and its maximum, so "p99 stable, RSS flat" can be read off the table.
The default rate is --fraction (80 %) of the best requests/s in bench/http.py's JSON.

Run from the repository root, one benchmark at a time:
  flock /tmp/qa-bench.lock python -m bench.load --from-json bench/results/http.json --json bench/results/load.json
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import machine, serving

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
MIB = 2**20
SCHEDULE_LEAD_SECONDS = 1  # the locustfile's schedule starts this long after Locust does, once every user is spawned


@dataclass(frozen=True)
class Sample:
    """One request: when it started (epoch s), how long it took, its status (0 when none came), whether it failed."""

    start: float
    milliseconds: float
    status: int
    failed: bool

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return not self.failed and 200 <= self.status < 300


@dataclass(frozen=True)
class ProcessReading:
    """The server's resident memory and CPU seconds, and the whole machine's busy CPU seconds, at one moment."""

    at: float
    rss_bytes: int
    cpu_seconds: float
    machine_busy_seconds: float


@dataclass
class LoadRun:
    """Everything one constant-rate run recorded."""

    rate: float
    users: int
    seconds: float
    samples: list[Sample]
    readings: list[ProcessReading]
    started: float
    generator_cpu_seconds: float
    exit_code: int


def default_users(rate: float) -> int:
    """Enough users that each has a whole second per request before it falls behind its pace."""
    return max(2, math.ceil(rate))


def locust_command(base_url: str, run: LoadRun, questions_file: Path, samples_file: Path) -> list[str]:
    """Headless Locust for run.seconds at run.rate with run.users users, all started within a second."""
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", base_url,
        "-u", str(run.users), "-r", str(run.users), "--run-time", f"{math.ceil(run.seconds) + SCHEDULE_LEAD_SECONDS}s",
        "--stop-timeout", "10", "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0",
        "--rate", f"{run.rate:g}", "--lead-seconds", str(SCHEDULE_LEAD_SECONDS),
        "--questions-file", str(questions_file), "--samples-file", str(samples_file),
    ]


def reading(pid: int) -> ProcessReading:
    """The process's memory and CPU now, and the machine's."""
    return ProcessReading(time.time(), serving.rss_bytes(pid), serving.cpu_seconds(pid), serving.machine_busy_seconds())


def run_load(base_url: str, pid: int, rate: float, seconds: float, questions: list[str], folder: Path,
             users: int | None = None, sample_every: float = 5.0) -> LoadRun:
    """Send `rate` POST /v1/ask a second for `seconds` to base_url, reading process `pid` every `sample_every` s."""
    run = LoadRun(rate, users or default_users(rate), seconds, [], [reading(pid)], time.time(), 0.0, 0)
    questions_file, samples_file = folder / "questions.txt", folder / "samples.csv"
    questions_file.write_text("".join(" ".join(question.split()) + "\n" for question in questions), encoding="utf-8")
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with (folder / "locust.log").open("wb") as log:
        locust = subprocess.Popen(locust_command(base_url, run, questions_file, samples_file), stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            while locust.poll() is None and time.time() < run.started + seconds + 60:
                time.sleep(min(sample_every, max(0.05, run.readings[-1].at + sample_every - time.time())))
                run.readings.append(reading(pid))
        finally:
            serving.stop(locust)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.generator_cpu_seconds = children.ru_utime + children.ru_stime - children_before.ru_utime - children_before.ru_stime
    run.exit_code = locust.returncode
    run.readings.append(reading(pid))
    run.samples = read_samples(samples_file)
    if run.samples:  # the run is `seconds` from the first request, after Locust has started up
        run.started = run.samples[0].start
        run.samples = [sample for sample in run.samples if sample.start < run.started + seconds]
    return run


def read_samples(path: Path) -> list[Sample]:
    """The samples the Locust users wrote, in start order."""
    if not path.exists():
        return []
    rows = (line.split(",") for line in path.read_text(encoding="utf-8").splitlines() if line)
    return sorted((Sample(float(start), float(ms), int(status), failed == "1") for start, ms, status, failed in rows),
                  key=lambda sample: sample.start)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def latency_figures(samples: list[Sample]) -> dict[str, Any]:
    """Requests, errors and p50/p99/max in ms of some samples."""
    times = [sample.milliseconds for sample in samples]
    return {"requests": len(samples), "errors": sum(not sample.ok for sample in samples),
            "p50_ms": round(percentile(times, 0.5), 1), "p99_ms": round(percentile(times, 0.99), 1),
            "max_ms": round(max(times, default=0.0), 1)}


def windows(run: LoadRun, window: float) -> list[dict[str, Any]]:
    """Per window of the run: requests/s achieved, latency, errors, the server's RSS at its end, and the CPU the server
    and everything else on the machine (Locust included, a few hundredths of a core) used meanwhile."""
    rows = []
    for number in range(math.ceil(run.seconds / window)):
        start, end = run.started + number * window, run.started + min((number + 1) * window, run.seconds)
        inside = [sample for sample in run.samples if start <= sample.start < end]
        before = max((r for r in run.readings if r.at <= start), key=lambda r: r.at, default=run.readings[0])
        after = min((r for r in run.readings if r.at >= end), key=lambda r: r.at, default=run.readings[-1])
        elapsed = max(after.at - before.at, 1e-9)
        server_cpu = after.cpu_seconds - before.cpu_seconds
        rows.append({
            "window": f"{number * window:g}-{min((number + 1) * window, run.seconds):g} s",
            "requests_per_s": round(len(inside) / (end - start), 1), **latency_figures(inside),
            "rss_mib": round(after.rss_bytes / MIB, 1), "server_cpu_cores": round(server_cpu / elapsed, 2),
            "other_cpu_cores": round((after.machine_busy_seconds - before.machine_busy_seconds - server_cpu) / elapsed, 2),
        })
    return rows


def summary(run: LoadRun, window_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole run: rate achieved, latency, errors, p99 spread over windows, and RSS at start, end and most."""
    rss = [item.rss_bytes for item in run.readings]
    p99s = [row["p99_ms"] for row in window_rows if row["requests"]]
    elapsed = max(run.readings[-1].at - run.started, 1e-9)
    return {
        "target_rate": run.rate, "users": run.users, "seconds": run.seconds, **latency_figures(run.samples),
        "requests_per_s": round(len(run.samples) / run.seconds, 1),
        "window_p99_ms_min": min(p99s, default=0.0), "window_p99_ms_max": max(p99s, default=0.0),
        "rss_start_mib": round(rss[0] / MIB, 1), "rss_end_mib": round(rss[-1] / MIB, 1),
        "rss_max_mib": round(max(rss) / MIB, 1), "rss_growth_mib": round((rss[-1] - rss[0]) / MIB, 1),
        "rss_growth_after_first_window_mib": round((rss[-1] - window_rows[0]["rss_mib"] * MIB) / MIB, 1) if window_rows else 0.0,
        "generator_cpu_cores": round(run.generator_cpu_seconds / elapsed, 2), "locust_exit_code": run.exit_code,
    }


def print_report(rows: list[dict[str, Any]], total: dict[str, Any]) -> None:
    """The windows as a Markdown table, then the totals."""
    print("\n| window | requests/s | requests | errors | p50 ms | p99 ms | max ms | RSS MiB at end | server CPU (cores) "
          "| other CPU (cores) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['window']} | {row['requests_per_s']} | {row['requests']} | {row['errors']} | {row['p50_ms']} | "
              f"{row['p99_ms']} | {row['max_ms']} | {row['rss_mib']} | {row['server_cpu_cores']} | {row['other_cpu_cores']} |")
    print(f"\ntarget {total['target_rate']} requests/s with {total['users']} users for {total['seconds']:g} s: "
          f"{total['requests']} requests ({total['requests_per_s']}/s), {total['errors']} errors, p50 {total['p50_ms']} ms, "
          f"p99 {total['p99_ms']} ms (per window {total['window_p99_ms_min']}–{total['window_p99_ms_max']} ms); RSS "
          f"{total['rss_start_mib']} → {total['rss_end_mib']} MiB (max {total['rss_max_mib']}); Locust used "
          f"{total['generator_cpu_cores']} cores")


def target_rate(arguments: argparse.Namespace) -> float:
    """--rate, or --fraction of the best requests/s that bench/http.py wrote to --from-json."""
    if arguments.rate:
        return float(arguments.rate)
    if arguments.from_json and arguments.from_json.exists():
        best = json.loads(arguments.from_json.read_text(encoding="utf-8"))["best"]["requests_per_s"]
        return round(float(best) * float(arguments.fraction), 1)
    raise SystemExit(f"give --rate, or --from-json with bench/http.py's results ({arguments.from_json} not found)")


def main() -> None:
    """Index, serve, load at a constant rate; print the windows, and write everything with --json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=None, help="Requests a second (default: from --from-json).")
    parser.add_argument("--from-json", type=Path, default=Path("bench/results/http.json"), help="bench/http.py's JSON.")
    parser.add_argument("--fraction", type=float, default=0.8, help="Share of bench/http.py's best rate to send.")
    parser.add_argument("--duration", type=float, default=300.0, help="Seconds of load.")
    parser.add_argument("--window", type=float, default=30.0, help="Seconds per row of the table.")
    parser.add_argument("--users", type=int, default=None, help="Locust users (default: one per request a second).")
    parser.add_argument("--sample-every", type=float, default=5.0, help="Seconds between RSS readings.")
    serving.add_common_options(parser)
    arguments = parser.parse_args()
    rate = target_rate(arguments)
    index_dir = serving.ensure_index(arguments.cache_dir, serving.corpus_sources(arguments.corpus))
    questions = serving.load_questions(arguments.questions)
    quiet = machine.wait_for_quiet(arguments.max_load, arguments.patience)
    description = machine.describe()
    print(f"machine: {description} (quiet: {quiet}); {rate} requests/s for {arguments.duration:g} s", flush=True)
    with serving.serve(index_dir, arguments.cache_dir / "serve-load.log") as served:
        print(f"serve ready s: {served.ready_seconds:.2f} ({served.base_url}, pid {served.pid})", flush=True)
        run = run_load(served.base_url, served.pid, rate, arguments.duration, questions, arguments.cache_dir,
                       arguments.users, arguments.sample_every)
    rows = windows(run, arguments.window)
    total = summary(run, rows)
    print_report(rows, total)
    if arguments.json:
        machine.write_results(arguments.json, {
            "machine": description, "quiet_at_start": quiet, "load_average_end": machine.load_average(), "serve_ready_s": round(served.ready_seconds, 2),
            "summary": total, "windows": rows, "readings": [asdict(item) for item in run.readings],
        })


if __name__ == "__main__":
    main()
