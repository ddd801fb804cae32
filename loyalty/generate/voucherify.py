"""Voucherify writers: objects shaped like the vendor's payloads, webhook deliveries (v2024 project and
distribution envelopes, the legacy v2018 envelope) and Exports API CSV files (rows and download rounds)."""

from __future__ import annotations

import csv
import gzip
import json
import random
from pathlib import Path

from loyalty.generate.catalog import LOYALTY_CAMPAIGN, PROJECT_ID, TARGET_URL, TIERS
from loyalty.generate.state import Customer, Order, Redemption, Voucher
from loyalty.generate.util import DAY_MS, Ids, day_str, dumps, iso3, iso6

# ---------------------------------------------------------------------------------------------------------------
# Objects


def customer_obj(c: Customer) -> dict:
    return {
        "id": c.cust_id,
        "name": c.name,
        "email": c.email,
        "source_id": c.source_id,
        "metadata": {"region": c.region},
        "object": "customer",
    }


def campaign_obj(camp: dict) -> dict:
    voucher: dict = {"type": camp.get("voucher_type", "DISCOUNT_VOUCHER")}
    if "discount" in camp:
        voucher["discount"] = camp["discount"]
    if camp["campaign_type"] == "LOYALTY_PROGRAM":
        voucher["loyalty_card"] = {"points": 0}
    return {
        "id": camp["id"],
        "name": camp["name"],
        "campaign_type": camp["campaign_type"],
        "type": camp["type"],
        "is_referral_code": False,
        "voucher": voucher,
        "auto_join": False,
        "join_once": True,
        "active": True,
        "category_id": None,
        "metadata": {},
        "created_at": "2025-01-07T12:44:10.211Z",
        "object": "campaign",
    }


def voucher_obj(v: Voucher, balance: int | None = None, total: int | None = None) -> dict:
    camp = v.campaign
    obj = {
        "id": v.id,
        "code": v.code,
        "type": v.kind,
        "campaign": camp["name"],
        "campaign_id": camp["id"],
        "is_referral_code": False,
        "holder_id": v.holder.cust_id,
        "category_id": None,
        "active": True,
        "created_at": iso6(v.created_ms),
        "metadata": {},
        "object": "voucher",
    }
    if v.kind == "LOYALTY_CARD":
        obj["loyalty_card"] = {"points": total or 0, "balance": balance or 0}
    else:
        obj["discount"] = camp["discount"]
        obj["redemption"] = {"quantity": 1, "redeemed_quantity": 1 if v.redeemed else 0}
    return obj


def tier_obj(tier_idx: int) -> dict:
    t = TIERS[tier_idx]
    return {
        "id": t["id"],
        "name": t["name"],
        "campaign_id": LOYALTY_CAMPAIGN["id"],
        "metadata": {},
        "config": {"points": t["points"]},
        "points": t["points"],
        "object": "loyalty_tier",
    }


def order_metadata(o: Order) -> dict:
    meta = {"currency": "USD", "channel": order_channel(o)}
    if o.location_key == "location_id":
        meta["location_id"] = o.location
    elif o.location_key == "location":
        meta["location"] = o.location
    if o.origin is not None:
        meta["originOrderId"] = o.origin.id  # the POS's replacement order after a return
    return meta


def order_channel(o: Order) -> str:
    return {"Mobile App": "app", "Web": "web"}.get(o.location, "pos")


def order_obj(o: Order, status: str, updated_ms: int, applied: tuple[int, int] | None = None) -> dict:
    """The order as the vendor sends it. Discounts split into the whole cart's (`discount_amount`) and the order
    lines' (`items_discount_amount`), summed in `total_discount_amount`; every such key is absent when zero, and
    a few copies leave the total out. `applied` = (order-level, line-level) discount of the redemption the copy
    belongs to: `applied_discount_amount`, `items_applied_discount_amount` and their sum
    `total_applied_discount_amount`, absent when zero (the vendor's own example has only the line-level pair).
    `updated_at` is left out on orders whose copies never carry it."""
    obj = {
        "id": o.id,
        "source_id": o.source_id,
        "status": status,
        "customer_id": o.customer.cust_id,
        "referrer_id": None,
        "amount": o.amount,
    }
    cart_discount = o.discount - o.items_discount
    if cart_discount:
        obj["discount_amount"] = cart_discount
    if o.items_discount:
        obj["items_discount_amount"] = o.items_discount
    if o.discount and not o.omit_total_discount:
        obj["total_discount_amount"] = o.discount
    if applied is not None:
        cart_applied, items_applied = applied
        if cart_applied:
            obj["applied_discount_amount"] = cart_applied
        if items_applied:
            obj["items_applied_discount_amount"] = items_applied
        if cart_applied + items_applied:
            obj["total_applied_discount_amount"] = cart_applied + items_applied
    if not o.omit_total:
        obj["total_amount"] = o.amount - o.discount
    items = []
    for i, ((pid, sku, name, _cat, price), qty) in enumerate(o.items):
        item = {
            "object": "order_item",
            "product_id": pid,
            "source_id": sku,
            "related_object": "product",
            "quantity": qty,
            "amount": qty * price,
            "price": price,
            "subtotal_amount": qty * price,
            "product": {"id": pid, "source_id": sku, "name": name, "price": price},
        }
        if i == 0 and o.items_discount:
            item["discount_amount"] = o.items_discount
        items.append(item)
    obj["items"] = items
    obj["metadata"] = order_metadata(o)
    obj["customer"] = {"id": o.customer.cust_id, "object": "customer"}
    obj["created_at"] = iso6(o.created_ms)
    if o.sends_updated_at:
        obj["updated_at"] = iso6(updated_ms)
    obj["object"] = "order"
    return obj


def redemption_obj(
    r: Redemption, status: str | None, order: dict | None, *, rollbacks: list[str] | None = None
) -> dict:
    obj = {
        "id": r.id,
        "object": "redemption",
        "date": iso6(r.date_ms),
        "customer_id": r.customer.cust_id,
        "tracking_id": r.tracking_id,
        "metadata": dict(r.metadata),
        "result": r.result,
        "status": status,
        "order": order,
        "customer": customer_obj(r.customer),
        "channel": {
            "channel_type": r.channel_type,
            "channel_id": "user_pos01" if r.channel_type == "USER" else "app_pos01",
        },
    }
    if r.is_parent or r.stack_attempt:
        # a stack parent, or a failed stack attempt that never got children (the vendor's not_found example)
        obj["related_object_type"] = "redemption"
        obj["related_object_id"] = r.id
    elif r.promotion_tier:
        obj["related_object_type"] = "promotion_tier"
        obj["related_object_id"] = r.promotion_tier["id"]
        obj["promotion_tier"] = promotion_tier_obj(r.promotion_tier, r.campaign)
    elif r.voucher is not None:
        obj["related_object_type"] = "voucher"
        obj["related_object_id"] = r.voucher.id
    if r.voucher is not None:
        obj["voucher"] = voucher_obj(r.voucher)
    if r.parent_id:
        obj["redemption"] = r.parent_id
    if r.result == "FAILURE":
        obj["failure_code"] = r.failure_code
        obj["failure_message"] = r.failure_message
    if r.reward:
        obj["reward"] = {"id": r.reward["id"], "name": r.reward["name"], "object": "reward", "type": r.reward["type"]}
        if "parameters" in r.reward:
            obj["reward"]["parameters"] = r.reward["parameters"]  # a COIN reward's exchange_ratio / points_ratio
        obj["amount"] = r.points
    if rollbacks is not None:
        obj["related_redemptions"] = {
            "rollbacks": [{"id": rb, "object": "redemption_rollback"} for rb in rollbacks],
            "redemptions": [],
        }
    return obj


def promotion_tier_obj(tier: dict, campaign: dict) -> dict:
    """As the vendor sends it inside a redemption: the campaign by id only, no name anywhere."""
    return {
        "id": tier["id"],
        "action": None,
        "campaign": {"id": campaign["id"], "start_date": None, "expiration_date": None, "object": "campaign"},
        "campaign_id": None,
        "object": "promotion_tier",
    }


def rollback_obj(rb_id: str, r: Redemption, date_ms: int, order: dict | None, *, failed: bool, reason: str) -> dict:
    obj = {
        "id": rb_id,
        "object": "redemption_rollback",
        "date": iso6(date_ms),
        "customer_id": r.customer.cust_id,
        "tracking_id": r.tracking_id,
        "metadata": None,
        "reason": reason,
        "result": "FAILURE" if failed else "SUCCESS",
        "status": "FAILED" if failed else "SUCCEEDED",
        "order": order,
        "customer": customer_obj(r.customer),
        "redemption": r.id,
        "channel": {"channel_type": "API", "channel_id": "app_pos01"},
    }
    if r.voucher is not None:
        obj["voucher"] = voucher_obj(r.voucher)
    if failed:
        obj["failure_code"] = "already_rolled_back"
        obj["failure_message"] = "Already rolled back"
    return obj


def publication_obj(pub_id: str, v: Voucher, t_ms: int, channel: str) -> dict:
    return {
        "id": pub_id,
        "object": "publication",
        "created_at": iso6(t_ms),
        "customer_id": v.holder.cust_id,
        "tracking_id": v.holder.source_id,
        "metadata": {},
        "channel": channel,
        "source_id": None,
        "result": "SUCCESS",
        "customer": customer_obj(v.holder),
        "vouchers_id": [v.id],
    }


# ---------------------------------------------------------------------------------------------------------------
# Webhook deliveries

DISTRIBUTION_EVENTS = [
    "customer.order.created",
    "customer.order.paid",
    "customer.order.updated",
    "customer.order.canceled",
    "customer.loyalty.tier.joined",
    "customer.loyalty.tier.upgraded",
    "customer.loyalty.tier.downgraded",
    "customer.loyalty.tier.prolonged",
    "customer.loyalty.tier.left",
    "customer.redemption.succeeded",
    "customer.redemption.rollback.succeeded",
    "customer.publication.succeeded",
    "customer.publication.failed",
    "customer.validation.succeeded",
    "customer.validation.failed",
    "customer.rewarded.loyalty_points",
    "customer.voucher.loyalty_card.points_added",
    "customer.voucher.loyalty_card.points_expired",
    "customer.voucher.loyalty_card.pending_points.added",
    "customer.voucher.loyalty_card.pending_points.activated",
    "customer.voucher.loyalty_card.pending_points.canceled",
    "customer.reward_redemptions.completed",
]


class DayFile:
    """One open landing file per route, switched when the simulated day changes (events arrive in time order)."""

    def __init__(self, root: Path, pattern: str, gzip_every: int = 0):
        self.root, self.pattern, self.gzip_every = root, pattern, gzip_every
        self.day = None
        self.fh = None
        self.index = 0
        self.paths: list[Path] = []

    def write(self, day_ms: int, line: str) -> None:
        day = day_ms // DAY_MS
        if day != self.day:
            self.close()
            self.day = day
            self.index += 1
            rel = self.pattern.format(day=day_str(day * DAY_MS), ymd=day_str(day * DAY_MS).replace("-", "/"))
            gz = self.gzip_every and self.index % self.gzip_every == 0
            path = self.root / (rel + (".ndjson.gz" if gz else ".ndjson"))
            path.parent.mkdir(parents=True, exist_ok=True)
            raw = path.open("wb")
            self.fh = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=5) if gz else raw
            self._raw = raw
            self.paths.append(path)
        self.fh.write(line.encode("utf-8") + b"\n")

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            if self.fh is not self._raw:
                self._raw.close()
            self.fh = None


class Webhooks:
    """Writes each webhook delivery into the landing folder, with the real world's duplicates and delays."""

    SINGLE_FILE_CAP = 300

    def __init__(self, root: Path, rng: random.Random, ids: Ids, legacy_until_ms: int, end_ms: int):
        self.root = root / "voucherify" / "webhooks"
        self.rng, self.ids = rng, ids
        self.legacy_until_ms, self.end_ms = legacy_until_ms, end_ms
        self.project = DayFile(self.root, "project/{ymd}", gzip_every=3)
        self.distribution = DayFile(self.root, "distribution/{day}", gzip_every=4)
        self.legacy = DayFile(self.root, "legacy/v2018-{day}")
        self.late_path = self.root / "late" / "redeliveries.ndjson"
        self.late_path.parent.mkdir(parents=True, exist_ok=True)
        self.late = self.late_path.open("w", encoding="utf-8")
        self.webhook_id = "wh_5f0c2a9d1e7b"
        self.distribution_ids = {name: ids.hex("distr_", 12) for name in DISTRIBUTION_EVENTS}
        self.single_files = 0
        self.broken_written = False
        self.stats = {"deliveries": 0, "duplicates": 0, "late": 0, "legacy": 0, "single_json": 0, "by_type": {}}

    # -- envelopes -------------------------------------------------------------------------------------------

    def _event(self, event_type: str, t_ms: int, entity_id: str | None, channel: str = "API") -> dict:
        prefix = "evred_" if "redemption" in event_type else "evcus_" if event_type.startswith("customer") else "evvou_"
        return {
            "id": self.ids.hex(prefix),
            "type": event_type,
            "created_at": iso3(t_ms),
            "entity_id": entity_id,
            "group_id": "v-" + self.ids.hex("", 16),
            "event_source": {"channel": channel},
        }

    def project_event(
        self, event_type: str, t_ms: int, data: dict, entity_id: str | None = None, type_as_sent: str | None = None
    ) -> None:
        event = self._event(event_type, t_ms, entity_id)
        body = {
            "id": None,
            "project_id": PROJECT_ID,
            "created_at": None,
            "type": type_as_sent or event_type,
            "data": data,
            "source": {"id": self.webhook_id, "object": "webhook", "target_url": TARGET_URL},
            "event": event,
        }
        self._deliver(body, t_ms, self.project, single_ok=True)

    def distribution_event(
        self, event_type: str, t_ms: int, data: dict, entity_id: str | None, canonical_as_sent: str | None = None
    ) -> None:
        """Distribution deliveries carry the user's free-text `type`; `event.type` is canonical."""
        event = self._event(canonical_as_sent or event_type, t_ms, entity_id)
        distr_id = self.distribution_ids[event_type]
        body = {
            "id": None,
            "project_id": PROJECT_ID,
            "created_at": None,
            "type": "Loyalty notify " + event_type.rsplit(".", 1)[-1],
            "data": data,
            "source": {"id": distr_id, "object": "distribution", "target_url": TARGET_URL},
            "event": event,
        }
        self._deliver(body, t_ms, self.distribution, single_ok=False)

    def legacy_event(self, event_type: str, t_ms: int, resource: dict) -> None:
        """The v2018-08-01 envelope: the resource is data.object."""
        body = {
            "id": self.ids.hex("evred_"),
            "object": "event",
            "webhook_id": self.webhook_id,
            "project_id": PROJECT_ID,
            "created_at": iso3(t_ms + 300),
            "type": event_type,
            "data": {"object": resource, "previous_attributes": {}, "related_object": None},
            "metadata": {"source": "API"},
        }
        self.stats["legacy"] += 1
        self._count(event_type)
        self.legacy.write(t_ms, dumps(body))
        if self.rng.random() < 0.05 and t_ms + DAY_MS < self.end_ms:  # the same legacy event again, a day later
            self.stats["duplicates"] += 1
            self.late.write(dumps(body) + "\n")

    def is_legacy(self, t_ms: int) -> bool:
        return t_ms < self.legacy_until_ms

    def _count(self, event_type: str) -> None:
        by_type = self.stats["by_type"]
        by_type[event_type] = by_type.get(event_type, 0) + 1

    def _deliver(self, body: dict, t_ms: int, route: DayFile, single_ok: bool) -> None:
        sent_ms = t_ms + self.rng.randint(200, 4000)
        body["id"] = self.ids.hex("whs_")
        body["created_at"] = iso3(sent_ms)
        self.stats["deliveries"] += 1
        self._count(body["event"]["type"])
        roll = self.rng.random()
        if roll < 0.02 and sent_ms + DAY_MS < self.end_ms:
            # Late arrival: only delivered days later (receiver was down), into another file.
            body["created_at"] = iso3(min(sent_ms + self.rng.randint(1, 3) * DAY_MS, self.end_ms - 1))
            self.stats["late"] += 1
            self.late.write(dumps(body) + "\n")
            return
        line = dumps(body)
        if single_ok and roll < 0.06 and self.single_files < self.SINGLE_FILE_CAP:
            # One body per file, as a webhook receiver writes them.
            self.single_files += 1
            self.stats["single_json"] += 1
            path = self.root / "receiver" / day_str(t_ms) / f"{body['id']}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(body, indent=2, ensure_ascii=False), encoding="utf-8")
        else:
            route.write(t_ms, line)
        if roll > 0.96 and sent_ms + 4 * DAY_MS < self.end_ms:
            # Duplicate delivery: same event.id and source.id, a new send-out id, days later.
            self.stats["duplicates"] += 1
            dup = dict(body)
            dup["id"] = self.ids.hex("whs_")
            dup["created_at"] = iso3(sent_ms + self.rng.randint(1, 4) * DAY_MS)
            self.late.write(dumps(dup) + "\n")
            if not self.broken_written:
                # A delivery cut off mid-body (receiver crash): the one malformed webhook line.
                self.broken_written = True
                self.late.write(dumps(dup)[: len(line) // 2] + "\n")

    def close(self) -> None:
        if not self.broken_written:
            self.broken_written = True
            self.late.write('{"id": "whs_truncated", "type": "redemption.succ\n')
        for route in (self.project, self.distribution, self.legacy):
            route.close()
        self.late.close()


# ---------------------------------------------------------------------------------------------------------------
# Exports API CSV files

EXPORT_COLUMNS = {
    "redemption": [
        "id",
        "object",
        "date",
        "voucher_code",
        "campaign",
        "promotion_tier_id",
        "customer_id",
        "customer_source_id",
        "customer_name",
        "tracking_id",
        "order_id",
        "order_amount",
        "gift_amount",
        "loyalty_points",
        "result",
        "failure_code",
        "failure_message",
        "metadata",
    ],
    "voucher_transactions": [
        "id",
        "campaign_id",
        "voucher_id",
        "type",
        "source_id",
        "reason",
        "source",
        "balance",
        "amount",
        "related_transaction_id",
        "created_at",
        "details",
    ],
    "order": [
        "id",
        "source_id",
        "created_at",
        "updated_at",
        "status",
        "amount",
        "discount_amount",
        "items_discount_amount",
        "total_discount_amount",
        "total_amount",
        "customer_id",
        "referrer_id",
    ],
    "customer": [
        "id",
        "source_id",
        "name",
        "email",
        "created_at",
        "redemptions_total_succeeded",
        "redemptions_total_failed",
        "redemptions_total_rolled_back",
        "orders_total_amount",
        "orders_total_count",
        "loyalty_points",
        "metadata",
    ],
    # The vendor's publication export has no id column.
    "publication": [
        "voucher_code",
        "customer_id",
        "customer_source_id",
        "date",
        "channel",
        "campaign",
        "is_winner",
        "metadata",
    ],
    "voucher": [
        "id",
        "code",
        "voucher_type",
        "value",
        "discount_type",
        "campaign",
        "category",
        "start_date",
        "expiration_date",
        "gift_balance",
        "loyalty_balance",
        "redemption_quantity",
        "redemption_count",
        "active",
        "qr_code",
        "bar_code",
        "metadata",
        "is_referral_code",
        "created_at",
        "updated_at",
        "validity_timeframe_interval",
        "validity_timeframe_duration",
        "validity_day_of_week",
        "discount_amount_limit",
        "campaign_id",
        "additional_info",
        "customer_id",
        "discount_unit_type",
        "discount_unit_effect",
        "customer_source_id",
    ],
    "points_expiration": ["id", "campaign_id", "voucher_id", "status", "expires_at", "points"],
}


def title_case(header: str) -> str:
    """The human headers some downloads carry: "customer_source_id" → "Customer Source Id", "id" → "ID"."""
    if header == "id":
        return "ID"
    return " ".join(part.capitalize() for part in header.split("_"))


def write_export(
    root: Path,
    exported_object: str,
    stamp: str,
    columns: list[str],
    rows: list[list],
    *,
    title_headers: bool = False,
    bad_row: list | None = None,
) -> Path:
    """One export download. `bad_row` (a row with a wrong column count) is the one malformed export record."""
    path = root / "voucherify" / "exports" / exported_object / f"export_{stamp}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([title_case(c) for c in columns] if title_headers else columns)
        for i, row in enumerate(rows):
            writer.writerow(row)
            if bad_row is not None and i == len(rows) // 2:
                writer.writerow(bad_row)
        if bad_row is not None and not rows:
            writer.writerow(bad_row)
    return path


EXPORT_EVERY_DAYS = 7
EXPORT_WINDOW_DAYS = 10  # > EXPORT_EVERY_DAYS: consecutive exports overlap
WINDOWED_EXPORTS = ("redemption", "voucher_transactions", "order", "publication")


class Exports:
    """Exports API downloads: every round writes each windowed object's rows of the last EXPORT_WINDOW_DAYS
    (rounds overlap), customers on the second and final rounds, vouchers and point buckets on the final one.
    The second round has title-case headers and carries the one malformed record."""

    def __init__(self, root: Path):
        self.root = root
        self.buffers: dict[str, list] = {name: [] for name in WINDOWED_EXPORTS}  # (created_ms, object)
        self.rounds = 0

    def add(self, name: str, t_ms: int, obj) -> None:
        self.buffers[name].append((t_ms, obj))

    def write_round(self, t_ms: int, final: bool, *, customers, vouchers, members, expiry_ms, aggregates) -> int:
        """Write one round of downloads; returns how many malformed rows it wrote."""
        self.rounds += 1
        lo = t_ms - EXPORT_WINDOW_DAYS * DAY_MS
        stamp = iso3(t_ms).replace("-", "").replace(":", "")[:15] + "Z"
        second = self.rounds == 2
        bad_rows = 0
        for name, buf in self.buffers.items():
            buf[:] = [(ts, obj) for ts, obj in buf if ts >= lo]
            rows = [export_row(name, obj, t_ms) for _ts, obj in buf]
            columns = list(EXPORT_COLUMNS[name])
            if name == "publication" and second:
                # what the API returns when no fields are asked for: `code`, customer_id, date, channel
                picks = [columns.index(c) for c in ("voucher_code", "customer_id", "date", "channel")]
                rows = [[row[i] for i in picks] for row in rows]
                columns = ["code", "customer_id", "date", "channel"]
            if name == "order":
                columns += [
                    "metadata.currency",
                    "metadata.channel",
                    "metadata.location_id",
                    "metadata.location",
                    "metadata.originOrderId",
                ]
            # The one malformed export record: a copy of a row with two extra cells (wrong column count).
            bad_row = rows[0] + ["?", "?"] if second and name == "redemption" and rows else None
            write_export(self.root, name, stamp, columns, rows, title_headers=second, bad_row=bad_row)
            bad_rows += bad_row is not None
        if final or second:
            rows = [customer_export_row(c, aggregates(c)) for c in customers if c.created_ms <= t_ms]
            write_export(self.root, "customer", stamp, EXPORT_COLUMNS["customer"], rows, title_headers=second)
        if final:
            write_export(
                self.root, "voucher", stamp, EXPORT_COLUMNS["voucher"], [voucher_export_row(v) for v in vouchers]
            )
            rows = [
                [b[0], LOYALTY_CAMPAIGN["id"], c.card.id, "ACTIVE", iso6(b[3] + expiry_ms)[:10], b[1]]
                for c in members
                for b in c.buckets
            ]
            write_export(self.root, "points_expiration", stamp, EXPORT_COLUMNS["points_expiration"], rows)
        return bad_rows


def export_row(name: str, obj, t_ms: int) -> list:
    """One CSV row of a windowed export; an order shows its status as it stood at export time t_ms."""
    if name == "redemption":
        r: Redemption = obj
        return [
            r.id,
            "redemption",
            iso6(r.date_ms),
            r.voucher.code if r.voucher else "",
            # "parent campaign name of voucher if applicable": a promotion tier's campaign is not named here
            r.voucher.campaign["name"] if r.voucher else "",
            r.promotion_tier["id"] if r.promotion_tier else "",
            r.customer.cust_id,
            r.customer.source_id,
            r.customer.name,
            r.tracking_id,
            r.order.id if r.order else "",
            r.order.amount if r.order else "",
            "",
            r.points or "",
            r.result,
            r.failure_code or "",
            r.failure_message or "",
            json_text(r.metadata),
        ]
    if name == "voucher_transactions":
        tx = obj
        return [
            tx["id"],
            tx["campaign_id"],
            tx["voucher_id"],
            tx["type"],
            "",
            tx["reason"] or "",
            tx["source"] or "",
            tx["details"]["balance"]["balance"],
            tx["details"]["balance"]["points"],
            tx["related_transaction_id"] or "",
            tx["created_at"],
            json_text(tx["details"]),
        ]
    if name == "order":
        o: Order = obj
        status, updated = o.history[0]
        for st, ts in o.history:
            if ts <= t_ms:
                status, updated = st, ts
        meta = o.location_key
        total = "" if o.omit_total else o.amount - o.discount
        return [
            o.id,
            o.source_id,
            iso6(o.created_ms),
            iso6(updated) if o.sends_updated_at else "",
            status,
            o.amount,
            (o.discount - o.items_discount) or "",
            o.items_discount or "",
            o.discount or "",
            total,
            o.customer.cust_id,
            "",
            "USD",
            order_channel(o),
            o.location if meta == "location_id" else "",
            o.location if meta == "location" else "",
            o.origin.id if o.origin is not None else "",
        ]
    if name == "publication":
        _pub_id, v, ts, channel = obj
        return [v.code, v.holder.cust_id, v.holder.source_id, iso6(ts), channel, v.campaign["name"], "", "{}"]
    raise ValueError(name)


def voucher_export_row(v: Voucher) -> list:
    camp, card = v.campaign, v.kind == "LOYALTY_CARD"
    discount = camp.get("discount", {})
    value = discount.get("amount_off", discount.get("percent_off", ""))
    return [
        v.id,
        v.code,
        v.kind,
        value,
        discount.get("type", ""),
        camp["name"],
        "",
        "",
        "",
        "",
        v.holder.balance if card else "",
        "" if card else 1,
        int(v.redeemed),
        "true",
        "",
        "",
        "{}",
        "false",
        iso6(v.created_ms),
        "",
        "",
        "",
        "",
        discount.get("amount_limit", ""),
        camp["id"],
        "",
        v.holder.cust_id,
        "",
        "",
        v.holder.source_id,
    ]


def customer_export_row(c: Customer, agg: dict) -> list:
    """`agg`: the customer's redemption and paid-order counts as Voucherify keeps them."""
    return [
        c.cust_id,
        c.source_id,
        c.name,
        c.email or "",
        iso6(c.created_ms),
        agg["succeeded"] + c.pre_window_succeeded,
        agg["failed"],
        agg["rolled_back"],
        agg["paid_cents"] + c.pre_window_order_cents,
        agg["paid_count"] + c.pre_window_orders,
        c.balance if c.card else 0,
        json_text({"region": c.region}),
    ]


def json_text(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))
