"""Locust users for bench/load.py: POST /v1/ask at a constant total rate, each request written to a samples file.

Run by bench/load.py (never imported by it: Locust monkey-patches the process it runs in), e.g.
  locust -f bench/locustfile.py --headless --host http://127.0.0.1:8000 -u 20 -r 20 --run-time 300s \
      --rate 40 --lead-seconds 1 --questions-file questions.txt --samples-file samples.csv
Each sample line: start time (epoch s), response time (ms), HTTP status (0 when none came), 1 when it failed.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import IO, Any

import gevent
from locust import FastHttpUser, events, task
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment


class AskUser(FastHttpUser):
    """One client asking questions in turn; all users together make --rate requests a second."""

    questions: list[str] = []
    positions: itertools.count[int] = itertools.count()
    spawned: itertools.count[int] = itertools.count()
    users = 1
    period = 1.0  # seconds between one user's requests
    origin = 0.0  # time.monotonic() when the schedule starts
    next_start = 0.0  # time.monotonic() of this user's next request

    def on_start(self) -> None:
        """Take the next n-th of a period as this user's slot, so n users' requests arrive evenly spaced."""
        share = next(self.spawned) % self.users / self.users
        self.next_start = self.origin + share * self.period
        gevent.sleep(max(0.0, self.next_start - time.monotonic()))

    def wait_time(self) -> float:
        """Until this user's next slot: a fixed schedule, so a slow answer delays one request, not the schedule.

        (Locust's constant_throughput starts every user in the same instant and keeps them in step: the whole rate
        would arrive as one burst a second, and latency would measure the burst, not the rate.)
        """
        self.next_start += self.period
        return max(0.0, self.next_start - time.monotonic())

    @task
    def ask(self) -> None:
        """One POST /v1/ask with the next question."""
        question = self.questions[next(self.positions) % len(self.questions)]
        self.client.post("/v1/ask", json={"question": question}, name="/v1/ask")


class SampleWriter:
    """Writes one line per finished request."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def record(self, start_time: float, response_time: float, response: Any, exception: Any, **_: Any) -> None:
        """The request's start, duration, status and whether it failed."""
        status = getattr(response, "status_code", 0) or 0
        self.stream.write(f"{start_time:.4f},{response_time:.2f},{status},{int(exception is not None)}\n")


def add_options(parser: LocustArgumentParser) -> None:
    """The total rate, the questions and where samples go."""
    parser.add_argument("--rate", type=float, required=True, help="Requests a second, all users together.")
    parser.add_argument("--lead-seconds", type=float, required=True, help="Start the schedule this long after Locust.")
    parser.add_argument("--questions-file", type=Path, required=True, help="One question a line.")
    parser.add_argument("--samples-file", type=Path, required=True, help="Where each request's sample is written.")


def configure(environment: Environment, **_: Any) -> None:
    """Give each user its slot in a schedule of `rate` requests a second, load the questions and start recording samples."""
    options = environment.parsed_options
    if options is None:
        return
    AskUser.users = options.num_users
    AskUser.period = options.num_users / options.rate
    AskUser.origin = time.monotonic() + options.lead_seconds  # every user is spawned before the schedule starts
    AskUser.questions = [line for line in options.questions_file.read_text(encoding="utf-8").splitlines() if line]
    stream = options.samples_file.open("w", encoding="utf-8")
    environment.events.request.add_listener(SampleWriter(stream).record)  # type: ignore[no-untyped-call]
    environment.events.quitting.add_listener(lambda **_: stream.close())  # type: ignore[no-untyped-call]


events.init_command_line_parser.add_listener(add_options)  # type: ignore[no-untyped-call]
events.init.add_listener(configure)  # type: ignore[no-untyped-call]
