"""Segment writers: warehouse dumps (one schema per source, CSV or Parquet, drifting schemas) and the raw S3 archive."""

from __future__ import annotations

import csv
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from loyalty.generate import catalog as cat
from loyalty.generate.state import Customer, Order
from loyalty.generate.util import DAY_MS, Ids, dumps, iso3, iso_offset, snake_case, write_gzip

SOURCE_IDS = {"pos": "Xq3PosSrc01", "mobile_app": "Mb7AppSrc02", "web": "Wb2WebSrc03", "voucherify": "Vc9EvtCloud4"}
PARQUET_SCHEMAS = {"web"}
# Integer columns that later files carry as floats (schema drift).
DRIFTING_INTS = ("quantity_total", "order_amount", "balance_points")
# Tables written as <schema>/<table>.csv instead of <schema>/<table>/<load>.csv.
SINGLE_FILE_TABLES = {("pos", "identifies"), ("voucherify", "tracks"), ("web", "users")}


def flatten(prefix: str, value, out: dict) -> None:
    """Segment's warehouse flattening: nested objects → parent_child columns, arrays → one JSON text column."""
    if isinstance(value, dict):
        for key, inner in value.items():
            flatten(f"{prefix}_{snake_case(key)}" if prefix else snake_case(key), inner, out)
    elif isinstance(value, list):
        out[prefix] = dumps(value)
    elif value is not None:
        out[prefix] = value


class SegmentWriter:
    """Collects messages per source; every load (a few simulated days) becomes one file per table, and a share of
    the same messages also goes to the raw archive, grouped by received day."""

    def __init__(self, root: Path, rng: random.Random, ids: Ids, end_ms: int):
        self.root = root / "segment"
        self.end_ms = end_ms  # nothing is received after the world ends (it ends at most at today's midnight)
        self.rng, self.ids = rng, ids
        self.tables: dict[tuple[str, str], list[dict]] = {}
        self.archive: dict[tuple[str, int], list[dict]] = {}
        self.load_no = 0
        self.stats = {"messages": 0, "warehouse_rows": 0, "archive_messages": 0, "duplicates": 0, "by_table": {}}
        self.single_file_rows: dict[tuple[str, str], list[dict]] = {}
        self.truncate_products_left = 3
        self.files_per_table: dict[tuple[str, str], int] = {}
        self.redelivered: dict[tuple[str, str], list[dict]] = {}
        self.truncated_archives = 0
        self.archive_files = 0
        self.first_archive = None

    # -- messages --------------------------------------------------------------------------------------------

    def message(
        self,
        schema: str,
        call: str,
        t_ms: int,
        *,
        user_id: str | None,
        anonymous_id: str | None,
        event: str | None = None,
        properties: dict | None = None,
        traits: dict | None = None,
        context: dict | None = None,
        archive: bool = True,
    ) -> str:
        received = t_ms + self.rng.randint(50, 2500)
        if self.rng.random() < 0.01:
            late = received + self.rng.randint(1, 3) * DAY_MS  # late: an old timestamp arriving in a later load
            received = late if late < self.end_ms else received
        received = min(received, self.end_ms - 1)
        msg = {
            "messageId": self.ids.uuid(),
            "type": call,
            "userId": user_id,
            "anonymousId": anonymous_id,
            "timestamp": iso3(t_ms),
            "originalTimestamp": iso3(t_ms - 35),
            "receivedAt": iso3(received),
            "channel": "server" if schema in ("pos", "voucherify") else "client",
            "projectId": SOURCE_IDS[schema],
            "version": 2,
            "context": context or {"library": {"name": "analytics-python", "version": "2.3.2"}},
        }
        if self.rng.random() < 0.9:
            msg["sentAt"] = iso3(t_ms + 20)
        roll = self.rng.random()
        if roll < 0.15:
            msg["version"] = "1.1"  # old libraries
        elif roll < 0.4:
            msg["integrations"] = {"All": True}
            msg["_metadata"] = {"bundled": ["Segment.io"], "unbundled": []}
        elif roll < 0.45:
            msg["writeKey"] = "wk_" + SOURCE_IDS[schema]
        if event is not None:
            msg["event"] = event
        if properties is not None:
            msg["properties"] = properties
        if traits is not None:
            msg["traits"] = traits
        self.stats["messages"] += 1
        self._warehouse_rows(schema, msg, received)
        if archive and schema in ("mobile_app", "web", "pos") and self.rng.random() < 0.5:
            self.archive.setdefault((schema, received // DAY_MS), []).append(msg)
        return msg["messageId"]

    def _warehouse_rows(self, schema: str, msg: dict, received_ms: int) -> None:
        common = {
            "id": msg["messageId"],
            "anonymous_id": msg["anonymousId"],
            "user_id": msg["userId"],
            "received_at": iso_offset(received_ms),
            "sent_at": None,
            "timestamp": iso_offset_from(msg["timestamp"]),
            "original_timestamp": iso_offset_from(msg["originalTimestamp"]),
            "uuid_ts": iso_offset(received_ms + 1500),
        }
        if "sentAt" in msg:
            common["sent_at"] = iso_offset_from(msg["sentAt"])
        if schema == "pos":
            common["loaded_at"] = iso_offset(received_ms + 3 * 3_600_000)  # optional column some warehouses add
        flatten("context", msg["context"], common)
        if msg["type"] == "track":
            slug = snake_case(msg["event"])
            common["event"] = slug
            common["event_text"] = msg["event"]
            self._add(schema, "tracks", dict(common))
            row = dict(common)
            props = dict(msg.get("properties") or {})
            if "id" in props:
                props["_id"] = props.pop("id")
            flatten("", props, row)
            if "products" in row and self.truncate_products_left and self.rng.random() < 0.1:
                # Some warehouses cut long text columns: the products JSON is then invalid.
                self.truncate_products_left -= 1
                row["products"] = row["products"][:60]
            self._add(schema, slug, row)
        elif msg["type"] == "identify":
            row = dict(common)
            flatten("", msg.get("traits") or {}, row)
            self._add(schema, "identifies", row)
            user = {"id": msg["userId"], "received_at": common["received_at"]}
            flatten("", msg.get("traits") or {}, user)
            self._add(schema, "users", user)
        elif msg["type"] == "page":
            row = dict(common)
            flatten("", msg.get("properties") or {}, row)
            self._add(schema, "pages", row)

    def _add(self, schema: str, table: str, row: dict) -> None:
        self.tables.setdefault((schema, table), []).append({k: v for k, v in row.items() if v is not None})

    # -- what the sources send ------------------------------------------------------------------------------

    def event_cloud(self, event: str, t_ms: int, c: Customer, objects: dict) -> None:
        """A track call of Voucherify's Segment source, the generation Segment documents today: the customer's
        common properties (`email`, `customer`, `campaign`) plus the event's objects, one property each."""
        props = {
            "email": c.email,
            "customer": {"id": c.cust_id, "email": c.email, "source_id": c.source_id, "name": c.name},
        }
        props.update({k: v for k, v in objects.items() if v is not None})
        self.message(
            "voucherify", "track", t_ms + 1200, user_id=c.source_id, anonymous_id=None, event=event, properties=props
        )

    def event_cloud_first_generation(self, event: str, event_type: str, t_ms: int, c: Customer, objects: dict) -> None:
        """The source's first generation ("Redemption succeeded", …): the whole Voucherify event in one property,
        `voucherifyEvent` {id, type, data, created_at}, whose data holds the same objects as the webhook's."""
        data = {"customer": {"id": c.cust_id, "email": c.email, "source_id": c.source_id, "name": c.name}}
        data.update({k: v for k, v in objects.items() if v is not None})
        voucherify_event = {
            "id": self.ids.hex("evcus_"),
            "type": event_type,
            "data": data,
            "created_at": iso3(t_ms),
        }
        self.message(
            "voucherify",
            "track",
            t_ms + 1200,
            user_id=c.source_id,
            anonymous_id=None,
            event=event,
            properties={"voucherifyEvent": voucherify_event},
        )

    def order_messages(self, t_ms: int, o: Order) -> None:
        """What the sales channel of an order sends: the POS's identify + "Order placed" {voucherifyOrderId,
        localisation, phone}; the app's and web shop's screen/page, identify with profile traits, Order Completed."""
        c, seg, rng = o.customer, self, self.rng
        if o.location in cat.STORES:
            if not c.pos_identified:
                c.pos_identified = True
                seg.message(
                    "pos",
                    "identify",
                    t_ms - 5000,
                    user_id=c.source_id,
                    anonymous_id=None,
                    traits={"phone": c.source_id},
                )
            seg.message(
                "pos",
                "track",
                t_ms + 300,
                user_id=c.source_id,
                anonymous_id=None,
                event="Order placed",
                properties={"voucherifyOrderId": o.id, "localisation": o.location, "phone": c.source_id},
            )
            return
        schema = "mobile_app" if o.location == "Mobile App" else "web"
        flag = "app_identified" if schema == "mobile_app" else "web_identified"
        if schema == "web":
            seg.message(
                "web",
                "page",
                t_ms - 120_000,
                user_id=None,
                anonymous_id=c.anon_id,
                properties={"path": "/cart", "url": "https://shop.example.com/cart", "title": "Cart"},
                context={"page": {"path": "/cart", "url": "https://shop.example.com/cart"}, "userAgent": "Mozilla/5.0"},
            )
        else:
            seg.message(
                schema,
                "track",
                t_ms - 180_000,
                user_id=None,
                anonymous_id=c.anon_id,
                event="Application Opened",
                properties={"from_background": False},
                context={"app": {"name": "Loyalty App", "version": "3.4.1"}, "os": {"name": "iOS"}},
            )
        if not getattr(c, flag):
            setattr(c, flag, True)
            traits = {
                "phone": c.source_id,
                "first_name": c.first,
                "last_name": c.last,
                "email": c.email,
                "address": {"postalCode": f"{rng.randrange(10000, 99999)}"},
                "metadata": {"registered_customer": True},
            }
            seg.message(schema, "identify", t_ms - 60_000, user_id=c.source_id, anonymous_id=c.anon_id, traits=traits)
        total = (o.amount - o.discount) / 100
        products = [
            {"product_id": p[0], "sku": p[1], "name": p[2], "category": p[3], "price": p[4] / 100, "quantity": q}
            for p, q in o.items
        ]
        as_string = rng.random() < 0.3
        props = {
            "order_id": o.id,
            "checkout_id": self.ids.hex("chk_", 12),
            "affiliation": o.location,
            "total": f"{total:.2f}" if as_string else total,
            "revenue": f"{total:.2f}" if as_string else total,
            "discount": o.discount / 100,
            "currency": "USD",
            "products": products,
            "quantity_total": sum(q for _, q in o.items),
        }
        if o.discount:
            props["coupon"] = "applied"
        seg.message(
            schema,
            "track",
            t_ms + 200,
            user_id=c.source_id,
            anonymous_id=c.anon_id,
            event="Order Completed",
            properties=props,
        )

    # -- files -----------------------------------------------------------------------------------------------

    def flush_load(self) -> None:
        """Write one load: a file per table. Later loads see new columns and floats where ints were (drift)."""
        self.load_no += 1
        for (schema, table), rows in self.tables.items():
            if not rows:
                continue
            nth = self.files_per_table[(schema, table)] = self.files_per_table.get((schema, table), 0) + 1
            if nth > 1:
                for row in rows:
                    if table in ("order_completed", "order_placed"):
                        row["load_batch"] = self.load_no  # a column that appears only in later files
                    for key in DRIFTING_INTS:
                        if isinstance(row.get(key), int):
                            row[key] = float(row[key])  # int → float drift
            redelivered = self.redelivered.pop((schema, table), [])
            self.stats["duplicates"] += len(redelivered)
            for row in rows:
                if "received_at" in row and self.rng.random() < 0.01:
                    # Segment loads the same message again in a later load: same id, a later received_at.
                    later = datetime.fromisoformat(row["received_at"]) + timedelta(days=1)
                    if later.timestamp() * 1000 < self.end_ms:
                        self.redelivered.setdefault((schema, table), []).append(
                            dict(row, received_at=later.isoformat(timespec="milliseconds"))
                        )
            rows = rows + redelivered
            if (schema, table) in SINGLE_FILE_TABLES:
                self.single_file_rows.setdefault((schema, table), []).extend(rows)
                continue
            base = self.root / "warehouse" / schema / table / f"load_{self.load_no:03d}"
            self._write_table(base, schema, rows)
        self.tables = {}
        self._write_archive()

    def _write_table(self, base: Path, schema: str, rows: list[dict]) -> None:
        columns: dict[str, None] = {}
        for row in rows:
            for key in row:
                columns.setdefault(key, None)
        names = list(columns)
        base.parent.mkdir(parents=True, exist_ok=True)
        self.stats["warehouse_rows"] += len(rows)
        if schema in PARQUET_SCHEMAS:
            arrays = {}
            for name in names:
                values = [row.get(name) for row in rows]
                kinds = {type(v) for v in values if v is not None}
                if len(kinds) > 1 or kinds - {int, float, bool}:
                    values = [None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in values]
                    if kinds <= {int, float, bool}:
                        values = [None if v is None else str(v) for v in values]
                arrays[name] = values
            table = pa.table({name: pa.array(vals) for name, vals in arrays.items()})
            pq.write_table(table, base.with_suffix(".parquet"))
        else:
            with base.with_suffix(".csv").open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(names)
                for row in rows:
                    writer.writerow(["" if row.get(n) is None else _csv_value(row.get(n)) for n in names])

    def close(self) -> None:
        self.flush_load()
        for (schema, table), rows in self.single_file_rows.items():
            self._write_table(self.root / "warehouse" / schema / table, schema, rows)
        self._write_truncated_archive()

    def _write_archive(self) -> None:
        """This load's share of messages as the S3 destination writes them: gzip NDJSON per source and received day."""
        base = self.root / "archive" / "prod-bucket" / "segment-logs"
        if not (base / "dummy-object.txt").exists():
            base.mkdir(parents=True, exist_ok=True)
            (base / "dummy-object.txt").write_text("segment destination check\n")
        for (schema, day), msgs in sorted(self.archive.items()):
            self.archive_files += 1
            data = "".join(dumps(m) + "\n" for m in msgs).encode("utf-8")
            self.stats["archive_messages"] += len(msgs)
            path = base / SOURCE_IDS[schema] / str(day * DAY_MS) / f"{self.ids.hex('', 32)}.gz"
            if self.first_archive is None:
                self.first_archive = (path.parent, data)
            if self.archive_files % 9 == 4:
                # Some clients store the object already decompressed despite the .gz name.
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            else:
                write_gzip(path, data)
        self.archive = {}

    def _write_truncated_archive(self) -> None:
        """The one truncated archive: a second copy of messages that exist elsewhere, cut off mid-stream."""
        if self.first_archive is None:
            return
        folder, data = self.first_archive
        path = folder / f"{self.ids.hex('', 32)}.gz"
        write_gzip(path, data)
        blob = path.read_bytes()
        path.write_bytes(blob[: max(20, len(blob) // 2)])
        self.truncated_archives += 1


def iso_offset_from(iso_z: str) -> str:
    return iso_z[:-1] + "+00:00"


def _csv_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
