"""Lab-home settings shared by the notebook tests' stacks."""

# A retention pass every second instead of every 5 minutes (Kafka's default 7-day retention.ms
# kept): a lab whose records are dated more than a week back loses them mid-lab, as it would
# on a long-running real cluster, instead of passing only because no pass came.
RETENTION_EVERY_SECOND = (
    '[broker]\n"log.retention.check.interval.ms" = 1000\n"log.initial.task.delay.ms" = 0\n'
)
