"""The chart of a visibility campaign's dashboard (issue 14, `campaign_pages`): views counted
and spend per day, an inline SVG drawn on the server (no script, no external asset) whose
template only places what is computed here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from creatorhub.campaigns import stats
from creatorhub.web.acting import money


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # what a screen reader's table says too; the bar's <title>


@dataclass(frozen=True)
class Panel:
    heading: str
    top: float  # the panel's baseline is at top + PANEL_HEIGHT
    peak: str  # the scale's top, as read
    color: str
    bars: list[Bar]


@dataclass(frozen=True)
class Chart:
    """Views counted and spend per day, two panels of bars over the same days (drawn in a
    600 x 300 viewBox; the template only places what is computed here)."""

    days: list[stats.DayStats]
    panels: list[Panel]
    ticks: list[tuple[float, str]]  # x and label of the days named under the bars
    description: str

    WIDTH = 600
    LEFT = 70
    PANEL_HEIGHT = 90


def chart_of(figures: stats.CampaignStatsOut, currency: str) -> Chart:
    """Every day of the range (days without views at zero), views and spend as bars."""
    by_day = {day.day: day for day in figures.days}
    days: list[stats.DayStats] = []
    day = figures.from_day
    while day <= figures.to_day:
        days.append(by_day.get(day) or stats.DayStats(day=day, **_zero_counts()))
        day += timedelta(days=1)
    slot = (Chart.WIDTH - Chart.LEFT - 10) / max(len(days), 1)
    width = min(max(slot * 0.7, 1.0), 40.0)

    def panel(
        heading: str, top: float, values: list[int], shown: list[str], peak: str, color: str
    ) -> Panel:
        highest = max(values) if values else 0
        bars = []
        for index, (value, label) in enumerate(zip(values, shown, strict=True)):
            height = Chart.PANEL_HEIGHT * value / highest if highest else 0.0
            bars.append(
                Bar(
                    x=round(Chart.LEFT + index * slot + (slot - width) / 2, 2),
                    y=round(top + Chart.PANEL_HEIGHT - height, 2),
                    width=round(width, 2),
                    height=round(height, 2),
                    label=label,
                )
            )
        return Panel(heading, top, peak, color, bars)

    counted = [d.counted for d in days]
    spent = [d.paid_amount for d in days]
    view_panel = panel(
        "Views counted",
        20,
        counted,
        [f"{d.day.isoformat()}: {d.counted} views counted" for d in days],
        f"{max(counted, default=0):,}",
        "#2f6fd6",
    )
    spend_panel = panel(
        "Spend",
        170,
        spent,
        [f"{d.day.isoformat()}: {money(d.paid_amount, currency)} spent" for d in days],
        money(max(spent, default=0), currency),
        "#1c8a4a",
    )
    step = max(1, len(days) // 5)
    ticks = [
        (round(Chart.LEFT + i * slot + slot / 2, 2), days[i].day.strftime("%d %b"))
        for i in range(0, len(days), step)
    ]
    total_views, total_spent = sum(counted), sum(spent)
    description = (
        f"From {figures.from_day.isoformat()} to {figures.to_day.isoformat()}: "
        f"{total_views:,} views counted and {money(total_spent, currency)} spent; "
        f"the most views in a day {max(counted, default=0):,}."
    )
    return Chart(days, [view_panel, spend_panel], ticks, description)


def _zero_counts() -> dict[str, int]:
    return dict.fromkeys(stats.ViewCounts.model_fields, 0)
