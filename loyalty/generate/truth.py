"""Ground truth: what the simulation meant to happen, written with the marts' column names (docs/architecture.md)."""

from __future__ import annotations

import json
from pathlib import Path

from loyalty.generate import catalog as cat
from loyalty.generate.state import Customer, Order, Redemption
from loyalty.generate.util import iso3, money, month_start, write_csv

MOVEMENTS = {
    "POINTS_ACCRUAL": "earned",
    "PENDING_POINTS_ACTIVATION": "earned",
    "POINTS_EARNED": "earned",
    "POINTS_REDEMPTION": "burned",
    "POINTS_SPENT_ON_REWARD": "burned",
    "POINTS_REFUND": "refunded",
    "POINTS_EXPIRATION": "expired",
    "POINTS_EXPIRED": "expired",
    "POINTS_ADDITION": "adjusted",
    "POINTS_REMOVAL": "adjusted",
    "ADMIN_CREDIT": "adjusted",
    "ADMIN_DEBIT": "adjusted",
    "POINTS_TRANSFER_OUT": "transferred",
    "POINTS_TRANSFER_IN": "transferred",
}
PAID = ("PAID", "FULFILLED")
COHORT_FLOWS = ("earned", "burned", "expired", "removed")  # what happens to the points of a month's buckets

REDEMPTION_COLUMNS = [
    "redemption_id",
    "redeemed_at",
    "result",
    "status",
    "failure_code",
    "failure_message",
    "customer_source_id",
    "campaign_name",
    "voucher_code",
    "order_id",
    "location_id",
    "channel_type",
    "discount_amount",
    "rolled_back_at",
]
ORDER_COLUMNS = [
    "order_id",
    "ordered_at",
    "status",
    "is_paid",
    "customer_source_id",
    "location_id",
    "origin_order_id",
    "amount",
    "discount_amount",
    "total_amount",
    "is_member",
    "is_member_at_order",
    "points_earned",
]
LEDGER_COLUMNS = [
    "transaction_id",
    "occurred_at",
    "customer_source_id",
    "campaign_id",
    "voucher_id",
    "transaction_type",
    "movement",
    "points",
    "balance_after",
    "order_id",
    "location_id",
    "earning_rule_id",
    "earning_rule_name",
    "reward_id",
    "reward_name",
]
MEMBER_COLUMNS = [
    "customer_source_id",
    "email",
    "current_tier",
    "points_balance",
    "lifetime_points_earned",
    "lifetime_points_burned",
    "lifetime_points_expired",
    "orders_count",
    "lifetime_order_amount",
    "distinct_locations_visited",
    "first_order_at",
    "last_order_at",
    "last_activity_at",
    "joined_at",
]
PUBLICATION_COLUMNS = [
    "publication_id",
    "published_at",
    "customer_source_id",
    "campaign_name",
    "voucher_code",
    "voucher_type",
    "channel",
    "status",
    "failure_code",
]
LOCATION_DAILY_COLUMNS = [
    "day",
    "location_id",
    "paid_orders",
    "revenue",
    "distinct_customers",
    "member_orders",
    "redemptions_succeeded",
    "redemptions_failed",
    "points_earned",
    "points_burned",
]
CAMPAIGN_COLUMNS = [
    "campaign_name",
    "day",
    "publications",
    "redemptions_succeeded",
    "redemptions_failed",
    "redemptions_rolled_back",
    "discount_given",
    "revenue",
    "conversion_rate",
]
RECONCILIATION_COLUMNS = ["customer_source_id", "metric", "warehouse_value", "voucherify_value", "difference"]
TIER_CHANGE_COLUMNS = ["customer_source_id", "changed_at", "change_type", "tier_from", "tier_to", "campaign_id"]
POINTS_EXPIRING_COLUMNS = ["customer_source_id", "expires_on", "points"]


class Truth:
    def __init__(self, out: Path):
        self.out = out
        self.ledger: list[tuple] = []
        self.publications: list[list] = []
        self.tiers: dict[int, str | None] = {}
        self.tier_changes: list[list] = []
        self.validations: list[tuple] = []
        self.cohorts: dict[str, dict[str, int]] = {}  # earn month → points earned, burned, expired, removed
        self.counters: dict[str, int] = {}
        self.rejections: dict[str, int] = {
            "voucherify_webhooks": 0,
            "voucherify_exports": 0,
            "segment_warehouse": 0,
            "segment_archive": 0,
        }
        # Per customer running aggregates (for Voucherify's customer export).
        self._red_status: dict[str, str] = {}
        self._order_paid: dict[str, int] = {}
        self._agg: dict[int, dict] = {}

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def expected_rejection(self, source: str, n: int = 1) -> None:
        self.rejections[source] += n

    def _aggregates(self, c: Customer) -> dict:
        agg = self._agg.get(c.idx)
        if agg is None:
            agg = self._agg[c.idx] = {"succeeded": 0, "failed": 0, "rolled_back": 0, "paid_cents": 0, "paid_count": 0}
        return agg

    def customer_aggregates(self, c: Customer) -> dict:
        return dict(self._aggregates(c))

    # -- facts -----------------------------------------------------------------------------------------------

    def redemption_changed(self, r: Redemption) -> None:
        if r.is_parent:
            return
        agg = self._aggregates(r.customer)
        key = {"SUCCEEDED": "succeeded", "FAILED": "failed", "ROLLED_BACK": "rolled_back"}
        old = self._red_status.get(r.id)
        if old is not None:
            agg[key[old]] -= 1
        agg[key[r.status]] += 1
        self._red_status[r.id] = r.status

    def order_changed(self, o: Order) -> None:
        agg = self._aggregates(o.customer)
        old = self._order_paid.pop(o.id, None)
        if old is not None:
            agg["paid_cents"] -= old
            agg["paid_count"] -= 1
        if o.status in PAID:
            total = o.amount - o.discount
            agg["paid_cents"] += total
            agg["paid_count"] += 1
            self._order_paid[o.id] = total

    def ledger_row(
        self,
        tx_id: str,
        t_ms: int,
        c: Customer,
        tx_type: str,
        points: int,
        balance: int,
        order: Order | None,
        rule: dict | None = None,
        reward: dict | None = None,
    ) -> None:
        """One loyalty transaction; `rule` is the earning rule that awarded it, `reward` what its points paid for."""
        self.ledger.append((t_ms, tx_id, c.idx, tx_type, points, balance, order, rule, reward))

    def publication(
        self,
        pub_id: str,
        t_ms: int,
        c: Customer,
        campaign_name: str,
        code: str | None,
        voucher_type: str | None,
        channel: str,
        failure_code: str | None = None,
    ) -> None:
        """A publication; a failed one (failure_code set) handed out no voucher."""
        self.publications.append(
            [pub_id, t_ms, c.source_id, campaign_name, code or "", voucher_type or "", channel, failure_code]
        )
        if failure_code:
            self.count("publications_failed")

    def validation(
        self, validation_id: str, t_ms: int, c: Customer, code: str, valid: bool, campaign_name: str | None
    ) -> None:
        self.validations.append((validation_id, t_ms, c, code, valid, campaign_name))
        self.count("validations_valid" if valid else "validations_invalid")

    def bucket_opened(self, credited_ms: int, points: int) -> None:
        """A credit opens a point bucket (Voucherify's FIFO buckets), counted in its month's cohort."""
        self.cohorts.setdefault(month_start(credited_ms), dict.fromkeys(COHORT_FLOWS, 0))["earned"] += points

    def bucket_spent(self, credited_ms: int, points: int, spent_as: str) -> None:
        """Points left a bucket credited at credited_ms: burned, expired or removed."""
        self.cohorts[month_start(credited_ms)][spent_as] += points

    def tier_event(self, c: Customer, kind: str, tier_from: str | None, tier_to: str | None, t_ms: int) -> None:
        """One tier change; `left` has only a tier_from, `joined` only a tier_to, `prolonged` the same tier twice."""
        self.tiers[c.idx] = tier_to
        self.tier_changes.append(
            [c.source_id, iso3(t_ms), kind, tier_from or "", tier_to or "", cat.LOYALTY_CAMPAIGN["id"]]
        )
        self.count(f"tier_{kind}")

    # -- files -----------------------------------------------------------------------------------------------

    def finish(self, world) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        customers: list[Customer] = world.customers
        orders: dict[str, Order] = world.orders
        redemptions: dict[str, Redemption] = world.redemptions

        # fct_orders
        order_rows = []
        for o in sorted(orders.values(), key=lambda o: (o.created_ms, o.id)):
            total = o.amount - o.discount
            order_rows.append(
                [
                    o.id,
                    iso3(o.created_ms),
                    o.status,
                    "true" if o.status in PAID else "false",
                    o.customer.source_id,
                    o.location,
                    o.origin.id if o.origin is not None else "",
                    money(o.amount),
                    money(o.discount),
                    money(total),
                    "true" if o.customer.card is not None else "false",
                    "true" if o.customer.joined_ms is not None and o.customer.joined_ms <= o.created_ms else "false",
                    o.points_earned,
                ]
            )
        write_csv(self.out / "orders.csv", ORDER_COLUMNS, order_rows)

        # fct_redemptions
        red_rows = []
        status_counts: dict[str, int] = {}
        failure_counts: dict[str, int] = {}
        discount_total = 0
        for r in sorted(redemptions.values(), key=lambda r: (r.date_ms, r.id)):
            if r.is_parent:
                continue
            discount = r.discount if r.result == "SUCCESS" and r.order is not None else 0
            red_rows.append(
                [
                    r.id,
                    iso3(r.date_ms),
                    r.result,
                    r.status,
                    r.failure_code or "",
                    r.failure_message or "",
                    r.customer.source_id,
                    r.campaign_name or "",
                    r.voucher.code if r.voucher else "",
                    r.order.id if r.order else "",
                    r.order.location if r.order else r.location or "",
                    r.channel_type or "",
                    money(discount),
                    iso3(r.rolled_back_ms) if r.rolled_back_ms else "",
                ]
            )
            status_counts[r.status] = status_counts.get(r.status, 0) + 1
            if r.failure_code:
                failure_counts[r.failure_code] = failure_counts.get(r.failure_code, 0) + 1
            if r.status == "SUCCEEDED":
                discount_total += discount
        write_csv(self.out / "redemptions.csv", REDEMPTION_COLUMNS, red_rows)

        # fct_loyalty_points
        ledger_rows = []
        per_member: dict[int, dict] = {}
        movement_totals: dict[str, int] = {}
        for t_ms, tx_id, idx, tx_type, points, balance, order, rule, reward in sorted(
            self.ledger, key=lambda x: (x[0], x[1])
        ):
            c = customers[idx]
            movement = MOVEMENTS[tx_type]
            ledger_rows.append(
                [
                    tx_id,
                    iso3(t_ms),
                    c.source_id,
                    cat.LOYALTY_CAMPAIGN["id"],
                    c.card.id,
                    tx_type,
                    movement,
                    points,
                    balance,
                    order.id if order else "",
                    order.location if order else "",
                    rule["id"] if rule else "",
                    rule["banner"] if rule else "",
                    reward["id"] if reward else "",
                    reward["name"] if reward else "",
                ]
            )
            m = per_member.setdefault(idx, {"balance": 0, "earned": 0, "burned": 0, "expired": 0, "last": 0})
            m["balance"] += points
            if movement == "earned":
                m["earned"] += points
            elif movement == "burned":
                m["burned"] -= points
            elif movement == "expired":
                m["expired"] -= points
            m["last"] = max(m["last"], t_ms)
            movement_totals[movement] = movement_totals.get(movement, 0) + points
        write_csv(self.out / "loyalty_points.csv", LEDGER_COLUMNS, ledger_rows)

        # imported here: economics builds on this module's constants (MOVEMENTS, PAID, COHORT_FLOWS)
        from loyalty.generate.economics import MEMBER_COLUMNS as ECONOMICS_MEMBER_COLUMNS
        from loyalty.generate.economics import Economics

        economics = Economics(world, self)

        # dim_members
        by_customer_orders: dict[int, list[Order]] = {}
        for o in orders.values():
            by_customer_orders.setdefault(o.customer.idx, []).append(o)
        last_redemption: dict[int, int] = {}
        for r in redemptions.values():
            if not r.is_parent:
                idx = r.customer.idx
                last_redemption[idx] = max(last_redemption.get(idx, 0), r.date_ms)
        member_rows = []
        for c in customers:
            if c.card is None:
                continue
            m = per_member.get(c.idx, {"balance": 0, "earned": 0, "burned": 0, "expired": 0, "last": 0})
            all_orders = by_customer_orders.get(c.idx, [])
            paid = [o for o in all_orders if o.status in PAID]
            stores = {o.location for o in paid if o.location in cat.STORES}
            activity = [m["last"], last_redemption.get(c.idx, 0)] + [o.created_ms for o in all_orders]
            last_activity = max(activity)
            member_rows.append(
                [
                    c.source_id,
                    c.email or "",
                    self.tiers.get(c.idx) or "",
                    m["balance"],
                    m["earned"],
                    m["burned"],
                    m["expired"],
                    len(paid),
                    money(sum(o.amount - o.discount for o in paid)),
                    len(stores),
                    iso3(min(o.created_ms for o in paid)) if paid else "",
                    iso3(max(o.created_ms for o in paid)) if paid else "",
                    iso3(last_activity) if last_activity else "",
                    iso3(c.joined_ms),
                    *economics.member_columns(c),
                ]
            )
        write_csv(self.out / "members.csv", MEMBER_COLUMNS + ECONOMICS_MEMBER_COLUMNS, member_rows)

        # publications
        pub_rows = [
            [p[0], iso3(p[1]), p[2], p[3], p[4], p[5], p[6], "FAILED" if p[7] else "SUCCEEDED", p[7] or ""]
            for p in self.publications
        ]
        write_csv(self.out / "publications.csv", PUBLICATION_COLUMNS, pub_rows)
        self._write_location_daily(orders, redemptions, customers)
        write_csv(
            self.out / "tier_changes.csv", TIER_CHANGE_COLUMNS, sorted(self.tier_changes, key=lambda r: (r[1], r[0]))
        )
        self._write_points_expiring(world)
        self._write_campaign_performance(orders, redemptions)
        economics_summary = economics.write(self.out)

        # reconciliation: warehouse (marts) against Voucherify's own aggregates in the latest customer export
        recon_rows = []
        differing = 0
        differing_by_metric: dict[str, int] = {}
        for c in customers:
            agg = self._aggregates(c)
            balance = per_member.get(c.idx, {"balance": 0})["balance"] if c.card else 0
            pairs = [
                ("redemptions_succeeded", agg["succeeded"], agg["succeeded"] + c.pre_window_succeeded, str),
                ("redemptions_failed", agg["failed"], agg["failed"], str),
                ("redemptions_rolled_back", agg["rolled_back"], agg["rolled_back"], str),
                ("orders_total_amount", agg["paid_cents"], agg["paid_cents"] + c.pre_window_order_cents, money),
                ("loyalty_points", balance, c.balance if c.card else 0, str),
            ]
            for metric, wh, vf, fmt in pairs:
                recon_rows.append([c.source_id, metric, fmt(wh), fmt(vf), fmt(wh - vf)])
                if wh != vf:
                    differing += 1
                    differing_by_metric[metric] = differing_by_metric.get(metric, 0) + 1
        write_csv(self.out / "reconciliation.csv", RECONCILIATION_COLUMNS, recon_rows)

        paid_orders = [o for o in orders.values() if o.status in PAID]
        order_status_counts: dict[str, int] = {}
        for o in orders.values():
            order_status_counts[o.status] = order_status_counts.get(o.status, 0) + 1
        summary = {
            "world": {
                "customers": len(customers),
                "members": len(member_rows),
                "days": world.days,
                "start": iso3(world.start_ms),
                "end": iso3(world.end_ms),
            },
            "redemptions": {
                "rows": len(red_rows),
                "by_status": dict(sorted(status_counts.items())),
                "by_failure_code": dict(sorted(failure_counts.items())),
                "stack_parents": sum(1 for r in redemptions.values() if r.is_parent),
                "rollbacks_failed": self.counters.get("rollbacks_failed", 0),
                "discount_given": money(discount_total),
            },
            "orders": {
                "rows": len(order_rows),
                "by_status": dict(sorted(order_status_counts.items())),
                "paid": len(paid_orders),
                "revenue": money(sum(o.amount - o.discount for o in paid_orders)),
                "member_paid": sum(1 for o in paid_orders if o.customer.card is not None),
            },
            "loyalty_points": {
                "rows": len(ledger_rows),
                "points_by_movement": dict(sorted(movement_totals.items())),
                "rows_by_type": _count_by(self.ledger, 3),
            },
            "tiers": {k[5:]: v for k, v in sorted(self.counters.items()) if k.startswith("tier_")},
            "publications": {"rows": len(pub_rows)},
            "economics": economics_summary,
            "reconciliation": {
                "rows": len(recon_rows),
                "differing_rows": differing,
                "differing_by_metric": dict(sorted(differing_by_metric.items())),
                "why": "Voucherify counts redemptions and orders from before the window",
            },
            "deliveries": world.webhooks.stats,
            "segment": world.segment.stats,
            "expected_rejections": dict(self.rejections),
        }
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")
        return summary

    def _write_points_expiring(self, world) -> None:
        """fct_points_expiring: the members' unexpired point buckets at the end of the simulation (what the final
        points_expiration export lists), summed per member and expiry date."""
        due: dict[tuple, int] = {}
        for c in world.members:
            for _bucket_id, remaining, _credited, credited_ms in c.buckets:
                key = (c.source_id, iso3(credited_ms + world.expiry_ms)[:10])
                due[key] = due.get(key, 0) + remaining
        rows = [[member, day, points] for (member, day), points in sorted(due.items()) if points > 0]
        write_csv(self.out / "points_expiring.csv", POINTS_EXPIRING_COLUMNS, rows)

    def _write_location_daily(self, orders: dict, redemptions: dict, customers: list) -> None:
        """agg_location_daily; rows whose metrics are all zero are left out."""
        cells: dict[tuple, dict] = {}

        def cell(t_ms: int, location: str | None) -> dict:
            key = (iso3(t_ms)[:10], location or "")
            if key not in cells:
                cells[key] = {
                    "paid": 0,
                    "revenue": 0,
                    "customers": set(),
                    "member": 0,
                    "succeeded": 0,
                    "failed": 0,
                    "earned": 0,
                    "burned": 0,
                }
            return cells[key]

        for o in orders.values():
            if o.status in PAID:
                c = cell(o.created_ms, o.location)
                c["paid"] += 1
                c["revenue"] += o.amount - o.discount
                c["customers"].add(o.customer.source_id)
                c["member"] += o.customer.card is not None
        for r in redemptions.values():
            if not r.is_parent and r.status in ("SUCCEEDED", "FAILED"):
                cell(r.date_ms, r.order.location if r.order else r.location)[
                    "succeeded" if r.status == "SUCCEEDED" else "failed"
                ] += 1
        for t_ms, _tx, _idx, tx_type, points, _bal, order, _rule, _reward in self.ledger:
            movement = MOVEMENTS[tx_type]
            if movement in ("earned", "burned"):
                cell(t_ms, order.location if order else None)[movement] += points if movement == "earned" else -points
        rows = []
        for (day, location), c in sorted(cells.items()):
            metrics = [
                c["paid"],
                c["revenue"],
                len(c["customers"]),
                c["member"],
                c["succeeded"],
                c["failed"],
                c["earned"],
                c["burned"],
            ]
            if any(metrics):
                rows.append(
                    [
                        day,
                        location,
                        c["paid"],
                        money(c["revenue"]),
                        len(c["customers"]),
                        c["member"],
                        c["succeeded"],
                        c["failed"],
                        c["earned"],
                        c["burned"],
                    ]
                )
        write_csv(self.out / "location_daily.csv", LOCATION_DAILY_COLUMNS, rows)

    def _write_campaign_performance(self, orders: dict, redemptions: dict) -> None:
        """fct_campaign_performance; rows whose metrics are all zero are left out; conversion_rate to 6 places."""
        cells: dict[tuple, dict] = {}

        def cell(campaign: str, t_ms: int) -> dict:
            key = (campaign, iso3(t_ms)[:10])
            if key not in cells:
                cells[key] = {
                    "pubs": 0,
                    "converted": 0,
                    "succeeded": 0,
                    "failed": 0,
                    "rolled_back": 0,
                    "discount": 0,
                    "orders": {},
                }
            return cells[key]

        converted_codes = {
            (r.campaign_name, r.voucher.code)
            for r in redemptions.values()
            if not r.is_parent and r.voucher is not None and r.status in ("SUCCEEDED", "ROLLED_BACK")
        }
        for _pub_id, t_ms, _sid, campaign, code, _vtype, _channel, failure_code in self.publications:
            if failure_code:
                continue  # a failed publication handed out nothing
            c = cell(campaign, t_ms)
            c["pubs"] += 1
            c["converted"] += (campaign, code) in converted_codes
        for r in redemptions.values():
            if r.is_parent or r.campaign is None:
                continue
            c = cell(r.campaign_name, r.date_ms)
            key = {"SUCCEEDED": "succeeded", "FAILED": "failed", "ROLLED_BACK": "rolled_back"}[r.status]
            c[key] += 1
            if r.status == "SUCCEEDED":
                c["discount"] += r.discount if r.order is not None else 0
                if r.order is not None and r.order.status in PAID:
                    c["orders"][r.order.id] = r.order.amount - r.order.discount
        rows = []
        for (campaign, day), c in sorted(cells.items()):
            revenue = sum(c["orders"].values())
            if not any([c["pubs"], c["succeeded"], c["failed"], c["rolled_back"], c["discount"], revenue]):
                continue
            rate = f"{c['converted'] / c['pubs']:.6f}" if c["pubs"] else ""
            rows.append(
                [
                    campaign,
                    day,
                    c["pubs"],
                    c["succeeded"],
                    c["failed"],
                    c["rolled_back"],
                    money(c["discount"]),
                    money(revenue),
                    rate,
                ]
            )
        write_csv(self.out / "campaign_performance.csv", CAMPAIGN_COLUMNS, rows)


def _count_by(rows: list[tuple], index: int) -> dict:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[index]] = counts.get(row[index], 0) + 1
    return dict(sorted(counts.items()))
