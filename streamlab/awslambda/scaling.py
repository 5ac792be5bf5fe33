"""The article's scaling experiment in simulated time (research/article-facts.md, "Scaling").

The article: 1,000 partitions, 50,000 records each, batch size 1, a handler that waits 5 s. One
consumer/Lambda pair handled all partitions at first; pairs were added as AWS saw the lag, up to
one per partition; capacity shrank again when the surge was over. Replaying that with real
processes takes hours and 1,000 environments; :func:`simulate` replays it in well under a second
with the same scaling rule as the real pollers (:func:`streamlab.awslambda.esm.scale_decision`),
modelling N partitions and the handler's latency instead of running them::

    >>> from streamlab.awslambda.scaling import article_experiment
    >>> run = article_experiment()
    >>> run.time_to_reach(1000) / 60          # simulated minutes until 1,000 pollers
    10.0
    >>> [(round(s.t / 60), s.pollers) for s in run.samples[:4]]
    [(0, 1), (1, 2), (2, 4), (3, 8)]

To watch the real pollers scale, run the endpoint with ``--time-scale 60`` (a one-minute lag check
every second) and sample a mapping with :meth:`streamlab.awslambda.lab.LambdaLab.scaling`.

The model: every poller feeds one environment, which handles one batch of up to ``batch_size``
records every ``handler_seconds``; partitions are spread evenly, so the whole group drains
``pollers * batch_size / handler_seconds`` records a second while there is lag. Every
``check_interval`` seconds the lag is checked and the decision takes effect after
``effect_delay`` seconds (AWS: within 3 minutes; 0 here by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamlab.awslambda.esm import scale_decision


@dataclass
class Sample:
    """At simulated second ``t``: pollers running, offset lag, records handled so far,
    concurrent executions (busy environments)."""

    t: float
    pollers: int
    lag: int
    done: int
    concurrency: int


@dataclass
class Simulation:
    partitions: int
    samples: list[Sample] = field(default_factory=list)

    def time_to_reach(self, pollers: int) -> float | None:
        """Simulated seconds until ``pollers`` ran (None: never)."""
        for s in self.samples:
            if s.pollers >= pollers:
                return s.t
        return None

    @property
    def max_pollers(self) -> int:
        return max((s.pollers for s in self.samples), default=0)

    @property
    def drained_at(self) -> float | None:
        """Simulated seconds until the backlog was gone (None: never)."""
        for s in self.samples:
            if s.lag == 0:
                return s.t
        return None

    def table(self, every: int = 1) -> str:
        """``t(min)  pollers  lag  records/5s-like rate`` lines, every ``every``-th sample."""
        lines = [f"{'minute':>8} {'pollers':>8} {'lag':>12} {'done':>12}"]
        for s in self.samples[::every]:
            lines.append(f"{s.t / 60:8.1f} {s.pollers:8d} {s.lag:12d} {s.done:12d}")
        return "\n".join(lines)


def simulate(
    partitions: int,
    records_per_partition: int,
    *,
    batch_size: int = 1,
    handler_seconds: float = 5.0,
    check_interval: float = 60.0,
    effect_delay: float = 0.0,
    produce_rate: float = 0.0,
    produce_seconds: float = 0.0,
    max_concurrency: int = 1000,
    duration: float | None = None,
    stop_when_idle: bool = True,
) -> Simulation:
    """Replay a mapping's on-demand scaling in simulated time; one :class:`Sample` per lag check.

    ``records_per_partition`` is the backlog at the start; ``produce_rate`` records/s more arrive
    during the first ``produce_seconds``. Ends after ``duration`` simulated seconds, or (by
    default) once the backlog is gone and the pollers are back to one.
    """
    if partitions < 1 or batch_size < 1 or handler_seconds <= 0 or check_interval <= 0:
        raise ValueError("partitions, batch size, handler time and interval must be positive")
    sim = Simulation(partitions)
    lag = partitions * records_per_partition
    done = 0
    pollers = 1
    idle_checks = 0
    pending: list[tuple[float, int]] = []  # (simulated second, pollers) decided, not yet in effect
    t = 0.0
    step = min(check_interval, handler_seconds)
    next_check = check_interval
    produced_frac = 0.0
    handled_frac = 0.0
    sim.samples.append(Sample(0.0, pollers, lag, 0, min(pollers, max_concurrency)))
    limit = duration if duration is not None else 10 * 365 * 86400.0
    while t < limit:
        t = min(t + step, next_check)
        for at, n in list(pending):
            if at <= t:
                pollers = n
                pending.remove((at, n))
        if produce_rate and t <= produce_seconds:
            produced_frac += produce_rate * step
            whole = int(produced_frac)
            lag += whole
            produced_frac -= whole
        busy = min(pollers, max_concurrency, partitions)
        handled_frac += busy * batch_size * step / handler_seconds
        whole = min(lag, int(handled_frac))
        handled_frac -= int(handled_frac)
        lag -= whole
        done += whole
        if t >= next_check:
            next_check += check_interval
            want, idle_checks = scale_decision(pollers, partitions, lag, batch_size, idle_checks)
            if want != pollers:
                if effect_delay > 0:
                    pending.append((t + effect_delay, want))
                else:
                    pollers = want
            sim.samples.append(
                Sample(t, pollers, lag, done, min(pollers, max_concurrency) if lag else 0)
            )
            if (
                stop_when_idle
                and duration is None
                and lag == 0
                and pollers == 1
                and not pending
                and t >= produce_seconds
            ):
                break
    return sim


def article_experiment(**overrides: float) -> Simulation:
    """1,000 partitions x 50,000 records, batch size 1, a 5-second handler, lag checked every
    minute, concurrency raised to 1,000 (the article's settings)."""
    settings: dict = {
        "partitions": 1000,
        "records_per_partition": 50_000,
        "batch_size": 1,
        "handler_seconds": 5.0,
        "check_interval": 60.0,
        "max_concurrency": 1000,
    }
    settings.update(overrides)
    return simulate(**settings)
