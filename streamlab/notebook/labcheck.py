"""Lab 00's "lab check": the same [OK]/[FAIL] lines as `streamlab doctor`, plus whether the
stack runs and answers, each with the next step when it does not."""

from __future__ import annotations

from streamlab import config, doctor, stack
from streamlab.doctor import Check, Level


def _stack_checks(settings: config.Settings) -> list[Check]:
    checks = []
    lab = stack.Stack(settings)
    statuses = lab.status()
    for s in statuses:
        if s.state is stack.State.RUNNING:
            checks.append(Check(Level.OK, f"{s.name} is running"))
        else:
            checks.append(
                Check(
                    Level.FAIL,
                    f"{s.name} is {s.state.value}",
                    "start the lab in a terminal: `streamlab up` (or `make up`)",
                )
            )
    return checks


def _kafka_answers() -> Check:
    from confluent_kafka.admin import AdminClient

    try:
        bootstrap = config.kafka_config()["bootstrap.servers"]
        AdminClient(config.kafka_config()).list_topics(timeout=5)
    except Exception as e:
        return Check(
            Level.FAIL,
            f"Kafka does not answer ({e})",
            "run `streamlab up`, then `streamlab status`; `streamlab logs kafka` "
            "shows why it stopped",
        )
    return Check(Level.OK, f"Kafka answers at {bootstrap}")


def lab_check(verbose: bool = False) -> bool:
    """Print one line per requirement; True when the lab is ready. ``verbose`` adds the
    package list that `streamlab doctor` prints."""
    settings = config.load()
    checks = [c for c in doctor.run_checks(settings) if not c.what.startswith("port")]
    if not verbose:
        checks = [c for c in checks if c.level is not Level.OK or "package" not in c.what]
    checks += _stack_checks(settings)
    checks.append(_kafka_answers())
    for c in checks:
        print(c.line())
    ok = all(c.level is not Level.FAIL for c in checks)
    print("The lab is ready." if ok else "Fix the [FAIL] lines above, then run this cell again.")
    return ok
