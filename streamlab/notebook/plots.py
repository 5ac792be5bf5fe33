"""Small plots for the labs (matplotlib, imported only when a plot is drawn)."""

from __future__ import annotations


def plot_partitions(
    counts: dict[int, int],
    title: str,
    ylabel: str = "records",
    second: dict[int, int] | None = None,
    second_label: str = "",
):
    """A bar per partition; ``second`` (e.g. lag) is drawn beside it. Without matplotlib,
    the same numbers as text bars."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        _text_bars(counts, title, ylabel, second, second_label)
        return None

    parts = sorted(set(counts) | set(second or {}))
    fig, ax = plt.subplots(figsize=(5, 2.6))
    width = 0.4 if second is not None else 0.6
    xs = list(range(len(parts)))
    ax.bar(
        [x - (width / 2 if second is not None else 0) for x in xs],
        [counts.get(p, 0) for p in parts],
        width,
        label=ylabel,
    )
    if second is not None:
        ax.bar(
            [x + width / 2 for x in xs],
            [second.get(p, 0) for p in parts],
            width,
            label=second_label,
        )
        ax.legend()
    ax.set_xticks(xs, [f"partition {p}" for p in parts])
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)  # shown once, as the cell's value
    return fig


def _text_bars(counts, title, ylabel, second, second_label) -> None:
    print(f"{title} (install matplotlib for a plot)")
    for p in sorted(set(counts) | set(second or {})):
        line = f"partition {p}: {ylabel} {counts.get(p, 0):>5} {'#' * min(counts.get(p, 0), 60)}"
        if second is not None:
            line += f"  {second_label} {second.get(p, 0)}"
        print(line)
