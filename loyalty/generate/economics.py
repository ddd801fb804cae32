"""Ground truth of the program-economics marts (docs/models.md): member lift, program days, point cohorts, member
cohorts, validations and the members' economics columns, computed from the simulation's own state (its orders,
ledger and the point buckets it kept), never from the landing files or SQL.
"""

from __future__ import annotations

import bisect
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

from loyalty.generate.truth import COHORT_FLOWS, MOVEMENTS, PAID
from loyalty.generate.util import DAY_MS, iso3, money, month_start, write_csv

ACTIVE_WINDOW_DAYS = 90  # a member is active with a paid order or an earned/burned ledger row in this many days
BEFORE_JOINING_DAYS = 180
REDEEMED_WITHIN_DAYS = 90
# What the warehouse values a point at when no pay-with-points reward is in the data: dbt var `point_value`.
DEFAULT_POINT_VALUE = Fraction(1, 100)

MEMBER_COLUMNS = [
    "first_redemption_at",
    "days_to_first_redemption",
    "avg_basket_before_joining",
    "avg_basket_after_joining",
    "orders_per_30_days_before_joining",
    "orders_per_30_days_after_joining",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
]
LIFT_COLUMNS = [
    "month",
    "location_id",
    "member_paid_orders",
    "member_revenue",
    "member_customers",
    "nonmember_paid_orders",
    "nonmember_revenue",
    "nonmember_customers",
    "aov_member",
    "aov_nonmember",
    "aov_lift",
    "orders_per_customer_member",
    "orders_per_customer_nonmember",
]
PROGRAM_DAILY_COLUMNS = [
    "day",
    "members",
    "active_members",
    "active_member_rate",
    "points_earned",
    "points_burned",
    "points_expired",
    "outstanding_points",
    "point_value",
    "point_value_source",
    "liability_amount",
]
POINTS_COHORT_COLUMNS = [
    "earn_month",
    "points_earned",
    "points_burned",
    "points_expired",
    "points_removed",
    "outstanding_points",
    "is_matured",
    "redemption_rate",
    "breakage_rate",
]
MEMBER_COHORT_COLUMNS = [
    "join_month",
    "months_since_joining",
    "cohort_size",
    "active_members",
    "revenue",
    "cumulative_revenue",
    "retention",
    "redeemed_within_90_days",
    "redeemed_within_90_days_share",
]
VALIDATION_COLUMNS = [
    "validation_id",
    "validated_at",
    "customer_source_id",
    "status",
    "voucher_code",
    "campaign_name",
    "redemption_id",
    "redeemed_at",
]


def day_of(ms: int) -> date:
    return date(1970, 1, 1) + timedelta(days=ms // DAY_MS)


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def rounded(value: Fraction, places: int) -> str:
    """`value` to `places` decimals, halves away from zero (Decimal's ROUND_HALF_UP), as text."""
    sign = -1 if value < 0 else 1
    units = (abs(value) * 10**places + Fraction(1, 2)).__floor__()
    text = f"{units // 10**places}.{units % 10**places:0{places}d}" if places else str(units)
    return ("-" if sign < 0 and units else "") + text


def rate(numerator: int, denominator: int) -> str:
    """A ratio to 4 places, empty (null) without a denominator."""
    return rounded(Fraction(numerator, denominator), 4) if denominator else ""


def average_money(cents: int, count: int) -> str:
    return rounded(Fraction(cents, 100 * count), 2) if count else ""


def rfm_segment(r: int | None, f: int | None, m: int | None) -> str:
    """The documented mapping (docs/models.md, macros/rfm.sql), first match wins."""
    if r is None:
        return "No purchase"
    if r == 4 and f >= 3 and m >= 3:
        return "Champions"
    if r >= 3 and f >= 3:
        return "Loyal"
    if r == 4:
        return "New"
    if r == 3:
        return "Promising"
    if f >= 3:
        return "At risk"
    return "Hibernating"


def quartile_scores(values: dict, higher_is_better: bool) -> dict:
    """1 + ⌊4 × (members with a worse value) / members⌋: 1-4, 4 best, ties share a score."""
    ordered = sorted(values.values())
    n = len(ordered)
    scores = {}
    for key, value in values.items():
        worse = bisect.bisect_left(ordered, value) if higher_is_better else n - bisect.bisect_right(ordered, value)
        scores[key] = 1 + 4 * worse // n
    return scores


class Economics:
    def __init__(self, world, truth) -> None:
        self.world, self.truth = world, truth
        self.orders = list(world.orders.values())
        self.redemptions = [r for r in world.redemptions.values() if not r.is_parent]
        times = (
            [o.created_ms for o in self.orders]
            + [r.date_ms for r in self.redemptions]
            + [row[0] for row in truth.ledger]
            + [p[1] for p in truth.publications]
        ) or [world.start_ms]
        # The data's first and last UTC day: of any order, redemption, ledger row or publication.
        self.first_day, self.last_day = day_of(min(times)), day_of(max(times))
        self.paid = [o for o in self.orders if o.status in PAID]
        self.paid_by_customer: dict[int, list] = {}
        for o in self.paid:
            self.paid_by_customer.setdefault(o.customer.idx, []).append(o)
        self.first_burn: dict[int, int] = {}
        for t_ms, _tx, idx, tx_type, *_rest in truth.ledger:
            if MOVEMENTS[tx_type] == "burned" and (idx not in self.first_burn or t_ms < self.first_burn[idx]):
                self.first_burn[idx] = t_ms
        self._rfm = self._rfm_scores()

    @staticmethod
    def member_at_order(o) -> bool:
        joined = o.customer.joined_ms
        return joined is not None and joined <= o.created_ms

    # -- dim_members ---------------------------------------------------------------------------------------

    def member_columns(self, c) -> list:
        joined = day_of(c.joined_ms)
        burn = self.first_burn.get(c.idx)
        paid = self.paid_by_customer.get(c.idx, [])
        window_start = max(joined - timedelta(days=BEFORE_JOINING_DAYS), self.first_day)
        before = [o for o in paid if window_start <= day_of(o.created_ms) < joined]
        after = [o for o in paid if day_of(o.created_ms) > joined]
        if before:
            days_before, days_after = (joined - window_start).days, (self.last_day - joined).days
            lift = [
                average_money(sum(o.amount - o.discount for o in before), len(before)),
                average_money(sum(o.amount - o.discount for o in after), len(after)),
                rate(30 * len(before), days_before),
                rate(30 * len(after), days_after),
            ]
        else:
            lift = ["", "", "", ""]
        recency, r, f, m = self._rfm.get(c.idx, ("", None, None, None))
        return [
            iso3(burn) if burn else "",
            (day_of(burn) - joined).days if burn else "",
            *lift,
            recency,
            len(paid),
            money(sum(o.amount - o.discount for o in paid)),
            "" if r is None else r,
            "" if f is None else f,
            "" if m is None else m,
            rfm_segment(r, f, m),
        ]

    def _rfm_scores(self) -> dict[int, tuple]:
        recency, frequency, monetary = {}, {}, {}
        for c in self.world.members:
            paid = self.paid_by_customer.get(c.idx)
            if paid:
                recency[c.idx] = (self.last_day - day_of(max(o.created_ms for o in paid))).days
                frequency[c.idx] = len(paid)
                monetary[c.idx] = sum(o.amount - o.discount for o in paid)
        r = quartile_scores(recency, higher_is_better=False)
        f = quartile_scores(frequency, higher_is_better=True)
        m = quartile_scores(monetary, higher_is_better=True)
        return {idx: (recency[idx], r[idx], f[idx], m[idx]) for idx in recency}

    # -- the marts -----------------------------------------------------------------------------------------

    def write(self, out: Path) -> dict:
        write_csv(out / "member_lift_monthly.csv", LIFT_COLUMNS, self._lift_rows())
        daily = self._program_daily_rows()
        write_csv(out / "program_daily.csv", PROGRAM_DAILY_COLUMNS, daily)
        write_csv(out / "points_cohorts.csv", POINTS_COHORT_COLUMNS, self._points_cohort_rows())
        write_csv(out / "member_cohorts.csv", MEMBER_COHORT_COLUMNS, self._member_cohort_rows())
        validations = self._validation_rows()
        write_csv(out / "validations.csv", VALIDATION_COLUMNS, validations)
        return {
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "point_value_source": daily[-1][9] if daily else "",
            "validations": len(validations),
            "validations_redeemed": sum(1 for v in validations if v[6]),
            "publications_failed": sum(1 for p in self.truth.publications if p[7]),
        }

    def _lift_rows(self) -> list[list]:
        cells: dict[tuple, dict] = {}
        for o in self.paid:
            group = "member" if self.member_at_order(o) else "nonmember"
            for location in (o.location, ""):  # its location, and the all-locations row
                cell = cells.setdefault((month_start(o.created_ms), location), {})
                orders, cents, customers = cell.setdefault(group, [0, 0, set()])
                cell[group] = [orders + 1, cents + o.amount - o.discount, customers | {o.customer.idx}]
        rows = []
        for (month, location), cell in sorted(cells.items()):
            mo, mc, mcust = cell.get("member", [0, 0, set()])
            no, nc, ncust = cell.get("nonmember", [0, 0, set()])
            lift = rounded(Fraction(mc * no, nc * mo) - 1, 4) if mo and no and nc else ""
            rows.append(
                [
                    month,
                    location,
                    mo,
                    money(mc),
                    len(mcust),
                    no,
                    money(nc),
                    len(ncust),
                    average_money(mc, mo),
                    average_money(nc, no),
                    lift,
                    rate(mo, len(mcust)),
                    rate(no, len(ncust)),
                ]
            )
        return rows

    def _point_value(self) -> tuple[Fraction, str]:
        coin = [r.reward for r in self.redemptions if r.reward is not None and r.reward["type"] == "COIN"]
        if coin:
            ratio = coin[-1]["parameters"]["coin"]
            return Fraction(ratio["exchange_ratio"], ratio["points_ratio"]), "pay_with_points_reward"
        return DEFAULT_POINT_VALUE, "point_value_var"

    def _program_daily_rows(self) -> list[list]:
        first, last = self.first_day.toordinal(), self.last_day.toordinal()
        activity: dict[int, set[int]] = {}
        for o in self.paid:
            activity.setdefault(o.customer.idx, set()).add(day_of(o.created_ms).toordinal())
        flows = {d: {"earned": 0, "burned": 0, "expired": 0, "all": 0} for d in range(first, last + 1)}
        for t_ms, _tx, idx, tx_type, points, *_rest in self.truth.ledger:
            day, movement = day_of(t_ms).toordinal(), MOVEMENTS[tx_type]
            flows[day]["all"] += points
            if movement in ("earned", "burned", "expired"):
                flows[day][movement] += abs(points)
            if movement in ("earned", "burned"):
                activity.setdefault(idx, set()).add(day)
        members, active = dict.fromkeys(flows, 0), dict.fromkeys(flows, 0)
        for c in self.world.members:
            joined = day_of(c.joined_ms).toordinal()
            for day in range(max(joined, first), last + 1):
                members[day] += 1
            covered: set[int] = set()
            for a in activity.get(c.idx, ()):
                covered.update(range(max(a, joined), min(a + ACTIVE_WINDOW_DAYS - 1, last) + 1))
            for day in covered:
                active[day] += 1
        value, source = self._point_value()
        point_value = Fraction(rounded(value, 6))
        rows, outstanding = [], 0
        for day in range(first, last + 1):
            outstanding += flows[day]["all"]
            rows.append(
                [
                    date.fromordinal(day).isoformat(),
                    members[day],
                    active[day],
                    rate(active[day], members[day]),
                    flows[day]["earned"],
                    flows[day]["burned"],
                    flows[day]["expired"],
                    outstanding,
                    rounded(point_value, 6),
                    source,
                    rounded(outstanding * point_value, 2),
                ]
            )
        return rows

    def _points_cohort_rows(self) -> list[list]:
        rows = []
        for month, flows in sorted(self.truth.cohorts.items()):
            earned, burned, expired, removed = (flows[k] for k in COHORT_FLOWS)
            outstanding = earned - burned - expired - removed
            first = date.fromisoformat(month)
            next_month = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            matured = self.last_day >= next_month and outstanding == 0
            rows.append(
                [
                    month,
                    earned,
                    burned,
                    expired,
                    removed,
                    outstanding,
                    "true" if matured else "false",
                    rate(burned, earned),
                    rate(expired, earned) if matured else "",
                ]
            )
        return rows

    def _member_cohort_rows(self) -> list[list]:
        last_month = month_index(self.last_day)
        cohorts: dict[int, dict] = {}
        for c in self.world.members:
            joined = day_of(c.joined_ms)
            cohort = cohorts.setdefault(month_index(joined), {"size": 0, "redeemed": 0, "active": {}, "revenue": {}})
            cohort["size"] += 1
            burn = self.first_burn.get(c.idx)
            cohort["redeemed"] += burn is not None and (day_of(burn) - joined).days <= REDEEMED_WITHIN_DAYS
        for o in self.paid:
            if self.member_at_order(o):
                joined = month_index(day_of(o.customer.joined_ms))
                k = month_index(day_of(o.created_ms)) - joined
                cohorts[joined]["active"].setdefault(k, set()).add(o.customer.idx)
                cohorts[joined]["revenue"][k] = cohorts[joined]["revenue"].get(k, 0) + o.amount - o.discount
        rows = []
        for joined, cohort in sorted(cohorts.items()):
            cumulative = 0
            for k in range(last_month - joined + 1):
                active, revenue = len(cohort["active"].get(k, ())), cohort["revenue"].get(k, 0)
                cumulative += revenue
                rows.append(
                    [
                        date(joined // 12, joined % 12 + 1, 1).isoformat(),
                        k,
                        cohort["size"],
                        active,
                        money(revenue),
                        money(cumulative),
                        rate(active, cohort["size"]),
                        cohort["redeemed"],
                        rate(cohort["redeemed"], cohort["size"]),
                    ]
                )
        return rows

    def _validation_rows(self) -> list[list]:
        """Each validation with the first successful redemption of its code by the same customer at or after it."""
        redeemed: dict[tuple, list] = {}
        for r in self.redemptions:
            if r.result == "SUCCESS" and r.voucher is not None:
                redeemed.setdefault((r.customer.idx, r.voucher.code), []).append((r.date_ms, r.id))
        for times in redeemed.values():
            times.sort()
        rows = []
        for validation_id, t_ms, c, code, valid, campaign in sorted(self.truth.validations, key=lambda v: (v[1], v[0])):
            later = [x for x in redeemed.get((c.idx, code), ()) if x[0] >= t_ms]
            rows.append(
                [
                    validation_id,
                    iso3(t_ms),
                    c.source_id,
                    "VALID" if valid else "INVALID",
                    code,
                    campaign or "",
                    later[0][1] if later else "",
                    iso3(later[0][0]) if later else "",
                ]
            )
        return rows
