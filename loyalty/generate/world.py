"""The simulation: one retailer's loyalty world, processed as a time-ordered stream of actions.

Every action updates the state, records what it *meant* (ground truth) and hands the same facts to every
writer (webhooks and exports in voucherify.py, Segment in segment.py). Actions are `do_…` methods scheduled with
`at(time, self.do_…, *args)` into one heap keyed by time, so files are written in time order and memory holds
the state, not the history. To add a behaviour: a `do_…` method, scheduled from where it is triggered.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from pathlib import Path

from loyalty.generate import catalog as cat
from loyalty.generate.segment import SegmentWriter
from loyalty.generate.state import Customer, Order, Redemption, Voucher
from loyalty.generate.truth import MOVEMENTS, Truth
from loyalty.generate.util import DAY_MS, HOUR_MS, MINUTE_MS, Ids, iso0, iso3, iso6
from loyalty.generate.voucherify import (
    EXPORT_EVERY_DAYS,
    Exports,
    Webhooks,
    campaign_obj,
    customer_obj,
    order_obj,
    publication_obj,
    redemption_obj,
    rollback_obj,
    tier_obj,
    voucher_obj,
)

SEGMENT_LOAD_DAYS = 5
ORDERS_PER_CUSTOMER_DAY = {True: 0.016, False: 0.006}  # member, non-member
PRE_JOIN_ORDERS_PER_DAY = 0.01  # a future member shops as an engaged non-member before joining
# What kind of member a card holder becomes: loyal ones order 2.5 times as often, lapsing ones stop ordering.
MEMBER_PERSONAS = {"loyal": 0.2, "lapsing": 0.2, "regular": 0.6}
LOYAL_ORDER_FACTOR = 2.5


class World:
    def __init__(self, out: Path, customers: int, days: int, seed: int, start_ms: int, progress=None):
        self.out = out
        self.rng = random.Random(seed)
        self.ids = Ids(self.rng)
        self.n_customers, self.days = customers, days
        self.start_ms, self.end_ms = start_ms, start_ms + days * DAY_MS
        self.progress = progress
        self.heap: list = []
        self.seq = 0
        self.now = start_ms
        self.webhooks = Webhooks(
            out, self.rng, self.ids, legacy_until_ms=start_ms + max(1, days // 3) * DAY_MS, end_ms=self.end_ms
        )
        self.segment = SegmentWriter(out, self.rng, self.ids, self.end_ms)
        self.truth = Truth(out / "ground_truth")
        self.customers: list[Customer] = []
        self.members: list[Customer] = []
        self.orders: dict[str, Order] = {}
        self.redemptions: dict[str, Redemption] = {}
        self.exports = Exports(out)
        self.expiry_heap: list = []
        self.stacks = 0
        self.typo_sent = False
        self.force_pay_with_points = False
        self.expiry_ms = max(3, min(cat.POINTS_EXPIRY_DAYS, days // 3)) * DAY_MS
        self.vouchers: list[Voucher] = []

    # ------------------------------------------------------------------------------------------------------
    # scheduling

    def at(self, t_ms: int, action: Callable[..., None], *args) -> None:
        """Schedule `action(t_ms, *args)` (a `do_…` method) at simulated time t_ms; ignored past the window."""
        if t_ms < self.end_ms:
            self.seq += 1
            heapq.heappush(self.heap, (t_ms, self.seq, action, args))

    def rand_time(self, lo_ms: int, hi_ms: int) -> int:
        return self.rng.randint(lo_ms, max(lo_ms, hi_ms - 1))

    def run(self) -> None:
        self._create_customers()
        self._plan()
        task = self.progress.add_task("simulating", total=self.end_ms - self.start_ms) if self.progress else None
        last = self.start_ms
        while self.heap:
            t_ms, _seq, action, args = heapq.heappop(self.heap)
            self.now = t_ms
            action(t_ms, *args)
            if task is not None and t_ms - last > HOUR_MS:
                self.progress.update(task, completed=t_ms - self.start_ms)
                last = t_ms
        self.do_export(self.end_ms, True)
        self.webhooks.close()
        self.truth.expected_rejection("voucherify_webhooks")  # the one delivery cut off mid-body
        self.segment.close()
        if self.segment.truncated_archives:
            self.truth.expected_rejection("segment_archive", self.segment.truncated_archives)
        self.truth.finish(self)
        if task is not None:
            self.progress.update(task, completed=self.end_ms - self.start_ms)

    # ------------------------------------------------------------------------------------------------------
    # the cast

    def _create_customers(self) -> None:
        rng = self.rng
        phones: set[int] = set()
        for idx in range(self.n_customers):
            while True:
                phone = rng.randrange(2_000_000_000, 9_999_999_999)
                if phone not in phones:
                    phones.add(phone)
                    break
            first, last = rng.choice(cat.FIRST_NAMES), rng.choice(cat.LAST_NAMES)
            nearest_store = rng.choice(cat.STORES)
            # Where the customer usually shops: 60 % a store, 25 % the app, 15 % the web shop.
            home = rng.choices([nearest_store, "Mobile App", "Web"], [0.6, 0.25, 0.15])[0]
            c = Customer(
                idx=idx,
                cust_id=self.ids.alnum("cust_"),
                source_id=f"+1{phone}",
                first=first,
                last=last,
                name=f"{first} {last}",
                email=None if rng.random() < 0.12 else f"{first.lower()}.{last.lower()}{idx}@example.com",
                region=cat.REGIONS[nearest_store],
                home=home,
                wants_card=rng.random() < 0.6,
                anon_id=self.ids.uuid(),
                created_ms=self.start_ms - rng.randint(1, 400) * DAY_MS,
            )
            if rng.random() < 0.25:
                c.created_ms = self.rand_time(self.start_ms, self.end_ms)  # signs up during the window
            if rng.random() < 0.04:
                # Voucherify knows history from before the exported window: the reconciliation's known gaps.
                c.pre_window_succeeded = rng.randint(1, 3)
                c.pre_window_orders = rng.randint(1, 2)
                c.pre_window_order_cents = rng.randint(20_00, 150_00)
            self.customers.append(c)

    def _plan(self) -> None:
        rng, start, end = self.rng, self.start_ms, self.end_ms
        for c in self.customers:
            first_ms = max(start, c.created_ms)
            if c.created_ms >= start:
                self.at(c.created_ms, self.do_customer_created, c)
            if c.wants_card:
                # Members join at some point of the window: before it they shop as non-members (so the marts can
                # compare a member before and after joining); after it as loyal, lapsing or regular members.
                join_ms = first_ms + rng.randint(0, max(1, (end - first_ms) // 2))
                self.at(join_ms, self.do_join, c)
                persona = rng.choices(list(MEMBER_PERSONAS), list(MEMBER_PERSONAS.values()))[0]
                self._plan_orders(c, first_ms, join_ms, PRE_JOIN_ORDERS_PER_DAY)
                rate = ORDERS_PER_CUSTOMER_DAY[True] * (LOYAL_ORDER_FACTOR if persona == "loyal" else 1)
                last_ms = end if persona != "lapsing" else join_ms + int((end - join_ms) * rng.uniform(0.1, 0.5))
                self._plan_orders(c, join_ms, last_ms, rate)
            else:
                self._plan_orders(c, first_ms, end, ORDERS_PER_CUSTOMER_DAY[False])
            if rng.random() < (0.3 if c.wants_card else 0.1):
                self.at(self.rand_time(first_ms, end - DAY_MS), self.do_publish, c, rng.choice(cat.DISCOUNT_CAMPAIGNS))
            if rng.random() < 0.05:
                self.at(self.rand_time(first_ms, end), self.do_failed_attempt, c, None)
        # Every documented failure code at least once, spread over the window.
        for code in cat.REDEMPTION_FAILURE_CODES:
            self.at(
                self.rand_time(start + HOUR_MS, end - HOUR_MS), self.do_failed_attempt, rng.choice(self.customers), code
            )
        for day in range(1, self.days + 1):
            self.at(start + day * DAY_MS + 2 * HOUR_MS + 17 * MINUTE_MS, self.do_expire_points)
        for k in range(1, self.days // EXPORT_EVERY_DAYS + 1):
            self.at(start + k * EXPORT_EVERY_DAYS * DAY_MS + 3 * HOUR_MS, self.do_export, False)
        for k in range(1, self.days // SEGMENT_LOAD_DAYS + 1):
            self.at(start + k * SEGMENT_LOAD_DAYS * DAY_MS + 4 * HOUR_MS, self.do_segment_load)
        # Program operations: transfers, manual adjustments, members leaving their tier.
        self.at(start + 6 * HOUR_MS, self.do_program_ops)
        # The promotion's name reaches the warehouse only through objects that name its campaign.
        self.at(start + HOUR_MS, self.do_campaign_updated, cat.PROMOTION_CAMPAIGN)

    def _plan_orders(self, c: Customer, lo_ms: int, hi_ms: int, per_day: float) -> None:
        """Orders of `c` between lo_ms and hi_ms: each day of that span has a chance `per_day` of one."""
        rng = self.rng
        n_orders = sum(1 for _ in range(-(-(hi_ms - lo_ms) // DAY_MS)) if rng.random() < per_day)
        for _ in range(n_orders):
            self.at(self.rand_time(lo_ms, hi_ms), self.do_order, c)

    # ------------------------------------------------------------------------------------------------------
    # customers and publications

    def announce(self, c: Customer, t_ms: int) -> None:
        c.announced = True
        self.webhooks.project_event("customer.created", t_ms, {"customer": customer_obj(c)}, entity_id=c.cust_id)

    def do_campaign_updated(self, t_ms: int, campaign: dict) -> None:
        self.webhooks.project_event("campaign.updated", t_ms, {"campaign": campaign_obj(campaign)})

    def do_customer_created(self, t_ms: int, c: Customer) -> None:
        if not c.announced:
            self.announce(c, t_ms)

    def _publish(self, t_ms: int, v: Voucher, channel: str) -> None:
        pub_id = self.ids.alnum("pub_")
        v.publication_id = pub_id
        pub = publication_obj(pub_id, v, t_ms, channel)
        camp = campaign_obj(v.campaign)
        vobj = voucher_obj(v)
        c, rng = v.holder, self.rng
        # A few publications reach the warehouse only through the export and Voucherify's Segment Event Cloud.
        lost = rng.random() < 0.04
        if not lost:
            self.webhooks.project_event(
                "publication.succeeded",
                t_ms,
                {
                    "user": {"id": "user_MarketingTeam00000000000001"} if channel == "voucherify-web-ui" else None,
                    "campaign": camp,
                    "customer": customer_obj(c),
                    "vouchers": [vobj],
                    "publication": pub,
                },
                entity_id=c.cust_id,
            )
        if not lost and rng.random() < 0.7:
            self.webhooks.project_event(
                "voucher.published",
                t_ms,
                {
                    "customer": customer_obj(c),
                    "campaign": camp,
                    "publication": pub,
                    "voucher": vobj,
                    "created_at": iso3(t_ms),
                },
                entity_id=c.cust_id,
            )
        if not lost and rng.random() < 0.5:
            self.webhooks.distribution_event(
                "customer.publication.succeeded",
                t_ms,
                {
                    "customer": customer_obj(c),
                    "campaign": camp,
                    "publication": dict(pub, voucher=vobj),
                    "voucher": vobj,
                },
                entity_id=c.cust_id,
            )
        if lost or rng.random() < 0.5:
            self.cloud(
                ("Customer Publication Succeeded", "Publication succeeded"),
                "customer.publication.succeeded",
                t_ms,
                c,
                {
                    "publication": {k: val for k, val in pub.items() if k != "customer"} | {"voucher": vobj},
                    "campaign": {"id": v.campaign["id"], "name": v.campaign["name"]},
                },
            )
        self.exports.add("publication", t_ms, (pub_id, v, t_ms, channel))
        self.vouchers.append(v)
        self.truth.publication(pub_id, t_ms, c, v.campaign["name"], v.code, v.kind, channel)

    def do_join(self, t_ms: int, c: Customer) -> None:
        code = "".join(self.rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(8))
        card = Voucher(self.ids.alnum("v_", 32), code, cat.LOYALTY_CAMPAIGN, c, "LOYALTY_CARD", t_ms)
        c.card, c.joined_ms = card, t_ms
        self.members.append(c)
        self._publish(t_ms, card, "Automation")
        self._tier_event(t_ms + 1000, c, "joined", None, 0)

    def do_publish(self, t_ms: int, c: Customer, camp: dict) -> None:
        if self.rng.random() < 0.04:
            self.do_failed_publication(t_ms, c, camp)
            return
        code = camp["prefix"] + "".join(self.rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(6))
        v = Voucher(self.ids.alnum("v_", 32), code, camp, c, "DISCOUNT_VOUCHER", t_ms)
        self._publish(t_ms, v, "voucherify-web-ui" if self.rng.random() < 0.3 else "API")
        c.open_vouchers.append(v)

    def do_failed_publication(self, t_ms: int, c: Customer, camp: dict) -> None:
        """A publication that handed out no voucher (`result` FAILURE with the vendor's failure code): Voucherify
        reports it as `customer.publication.failed`, a distribution webhook and an Event Cloud event."""
        code = self.rng.choice(list(cat.PUBLICATION_FAILURES))
        pub_id = self.ids.alnum("pub_")
        pub = {
            "id": pub_id,
            "object": "publication",
            "created_at": iso6(t_ms),
            "customer_id": c.cust_id,
            "tracking_id": c.source_id,
            "metadata": {},
            "channel": "API",
            "source_id": None,
            "result": "FAILURE",
            "failure_code": code,
            "failure_message": cat.PUBLICATION_FAILURES[code],
            "customer": customer_obj(c),
        }
        webhook = self.rng.random() < 0.5
        if webhook:
            self.webhooks.distribution_event(
                "customer.publication.failed",
                t_ms,
                {"customer": customer_obj(c), "campaign": campaign_obj(camp), "publication": pub},
                entity_id=c.cust_id,
            )
        if not webhook or self.rng.random() < 0.5:
            self.cloud(
                ("Customer Publication Failed", "Publication failed"),
                "customer.publication.failed",
                t_ms,
                c,
                {
                    "publication": {k: val for k, val in pub.items() if k != "customer"},
                    "campaign": {"id": camp["id"], "name": camp["name"]},
                },
            )
        self.truth.publication(pub_id, t_ms, c, camp["name"], None, None, "API", failure_code=code)

    def validation(self, t_ms: int, c: Customer, code: str, valid: bool, campaign: dict | None) -> None:
        """A customer checks a code before (or instead of) redeeming it: `customer.validation.succeeded|failed`
        with the vendor's validation object; a code that does not apply is listed in inapplicable_redeemables."""
        validation = {
            "id": self.ids.alnum("valid_"),
            "session_id": None,
            "status": "VALID" if valid else "INVALID",
            "created_at": iso6(t_ms),
            "customer_id": c.cust_id,
            "redeemables" if valid else "inapplicable_redeemables": [{"id": code, "type": "voucher"}],
        }
        outcome = "succeeded" if valid else "failed"
        if self.rng.random() < 0.4:
            self.webhooks.distribution_event(
                f"customer.validation.{outcome}",
                t_ms,
                {"customer": customer_obj(c), "validation": validation},
                entity_id=c.cust_id,
            )
        self.cloud(
            (f"Customer Validation {outcome.capitalize()}", f"Validation {outcome}"),
            f"customer.validation.{outcome}",
            t_ms,
            c,
            {"validation": validation},
        )
        self.truth.validation(validation["id"], t_ms, c, code, valid, campaign["name"] if campaign else None)

    def guessed_code(self) -> str:
        """A code a customer types that no campaign issued."""
        return self.rng.choice(cat.DISCOUNT_CAMPAIGNS)["prefix"] + "".join(
            self.rng.choice("0123456789") for _ in range(7)
        )

    # ------------------------------------------------------------------------------------------------------
    # orders

    def do_order(self, t_ms: int, c: Customer) -> None:
        rng = self.rng
        location = c.home if rng.random() < 0.55 else rng.choice(cat.LOCATIONS)
        items = []
        # members fill bigger baskets (the lift the economics marts measure)
        most_products = 4 if c.joined_ms is not None and c.joined_ms <= t_ms else 3
        for product in rng.sample(cat.PRODUCTS, rng.randint(1, most_products)):
            items.append((product, rng.randint(1, 3)))
        amount = sum(p[4] * q for p, q in items)
        if location in cat.STORES:
            key = rng.choices(["location_id", "location", None], [0.6, 0.2, 0.2])[0]
        else:
            key = "location_id" if rng.random() < 0.8 else "location"
        o = Order(
            id=self.ids.hex("ord_"),
            source_id=f"{location[:3].upper()}-{rng.randrange(10**8):08d}",
            customer=c,
            location=location,
            location_key=key,
            created_ms=t_ms,
            updated_ms=t_ms,
            status="CREATED",
            amount=amount,
            items=items,
            omit_total=rng.random() < 0.05,
            omit_total_discount=rng.random() < 0.15,
            # some integrations' order objects never carry updated_at: the copy from the latest event must win
            sends_updated_at=rng.random() >= 0.2,
        )
        self.orders[o.id] = o
        # Checkout: maybe redeem a published voucher, a promotion, or both stacked; maybe a failed try first.
        will_pay = not (location == "Web" and rng.random() < 0.12)
        if will_pay and not self.pay_with_points(t_ms, o):
            self.checkout_redemptions(t_ms + 500, o)
        if rng.random() < 0.03:
            self.validation(t_ms + 300, c, self.guessed_code(), False, None)  # a code that does not exist
        if rng.random() < 0.05:
            # A code tried at the till that failed, on the order just created; it went through without it.
            self.failed_redemption(t_ms + 200, c, None, order=o)
        self.order_event(t_ms, o, "CREATED", "customer.order.created")
        self.segment.order_messages(t_ms, o)
        if will_pay:
            self.at(t_ms + rng.randint(2_000, 90_000), self.do_paid, o)
        elif rng.random() < 0.5:
            self.at(t_ms + rng.randint(1, 3) * DAY_MS, self.do_cancel, o, "Abandoned cart")

    def order_event(self, t_ms: int, o: Order, status: str, event_type: str) -> None:
        o.status, o.updated_ms = status, t_ms
        o.history.append((status, t_ms))
        c = o.customer
        self.webhooks.distribution_event(
            event_type,
            t_ms,
            {"customer": customer_obj(c), "referrer": None, "order": order_obj(o, status, t_ms), "redemption": None},
            entity_id=c.cust_id,
        )
        if len(o.history) == 1:
            self.exports.add("order", t_ms, o)
        self.truth.order_changed(o)

    def do_paid(self, t_ms: int, o: Order) -> None:
        self.order_event(t_ms, o, "PAID", "customer.order.paid")
        c, rng = o.customer, self.rng
        if c.card is not None and c.joined_ms < t_ms:
            if o.location == "Mobile App" and rng.random() < 0.7:
                self.add_pending_points(t_ms + 800, c, o)
            else:
                new_store = o.location in cat.STORES and o.location not in c.visited
                self.at(t_ms + 800, self.do_earn_points, o, new_store)
        if o.location in cat.STORES:
            c.visited.add(o.location)
        if rng.random() < 0.06:
            # A return: the POS's own flow at a store, Voucherify's rollback flow in the app and web shop.
            returned = self.do_pos_return if o.location in cat.STORES else self.do_cancel
            self.at(t_ms + rng.randint(2, 8) * DAY_MS, returned, o, "Returned")
        elif o.location in cat.DIGITAL and rng.random() < 0.5:
            self.at(t_ms + rng.randint(20, 60) * HOUR_MS, self.do_fulfill, o)

    def do_fulfill(self, t_ms: int, o: Order) -> None:
        if o.status == "PAID":
            self.order_event(t_ms, o, "FULFILLED", "customer.order.updated")

    def do_cancel(self, t_ms: int, o: Order, reason: str) -> None:
        was_paid = o.status in ("PAID", "FULFILLED")
        self.order_event(t_ms, o, "CANCELED", "customer.order.canceled")
        if o.pending is not None:
            self.pending_points_event("voucher.loyalty_card.pending_points.canceled", t_ms + 1000, o)
            o.pending = None
        if not was_paid:
            return
        # A return: roll back the order's redemptions and take back the points it earned.
        for rid in o.redemption_ids:
            r = self.redemptions[rid]
            if r.result == "SUCCESS" and r.status == "SUCCEEDED":
                self.rollback(t_ms + 1500, r, "Order returned")
        if o.customer.card is not None:
            self.at(t_ms + 3000, self.do_return_points, o)

    def do_return_points(self, t_ms: int, o: Order) -> None:
        """Take back what the returned order earned, as far as the balance still holds it at this moment."""
        c = o.customer
        take = min(o.points_earned, c.balance)
        if take > 0:
            self.ledger(t_ms, c, "POINTS_REMOVAL", -take, order=o, reason="Order returned", source="voucherify-web-ui")

    def do_pos_return(self, t_ms: int, o: Order, reason: str, returned_count: int | None = None) -> None:
        """The POS's return of some or all products: remove the points the order earned from the card (a manual
        POINTS_REMOVAL whose reason names the order), set the order CANCELED, and create a replacement PAID order
        with the kept products whose metadata.originOrderId names the original. Redemptions are not rolled back."""
        if o.status not in ("PAID", "FULFILLED"):
            return
        c, rng = o.customer, self.rng
        returned = rng.sample(o.items, returned_count or rng.randint(1, len(o.items)))
        kept = [item for item in o.items if item not in returned]
        take = min(o.points_earned, c.balance) if c.card is not None else 0
        if take > 0:
            ids = ", ".join(product[0] for product, _qty in returned)
            reason_text = f"Return products {ids} from order: {o.id}"
            self.ledger(t_ms, c, "POINTS_REMOVAL", -take, order=o, order_in_details=False, reason=reason_text)
        self.order_event(t_ms + 500, o, "CANCELED", "customer.order.canceled")
        if not kept:
            return
        replacement = Order(
            id=self.ids.hex("ord_"),
            source_id=f"{o.location[:3].upper()}-{rng.randrange(10**8):08d}",
            customer=c,
            location=o.location,
            location_key=o.location_key,  # the original's metadata is copied (no POS event names this order)
            created_ms=t_ms + 1000,
            updated_ms=t_ms + 1000,
            status="PAID",
            amount=sum(product[4] * qty for product, qty in kept),
            items=kept,
            omit_total=False,
            sends_updated_at=False,  # created PAID, never updated
            origin=o,
        )
        self.orders[replacement.id] = replacement
        self.order_event(t_ms + 1000, replacement, "PAID", "customer.order.paid")
        if c.card is not None:
            self.at(t_ms + 1800, self.do_earn_points, replacement, False)

    # ------------------------------------------------------------------------------------------------------
    # redemptions

    def new_redemption(self, t_ms: int, c: Customer, result: str = "SUCCESS", **kw) -> Redemption:
        success = result == "SUCCESS"
        r = Redemption(
            id=self.ids.hex("r_" if success else "rf_"),
            date_ms=t_ms,
            customer=c,
            result=result,
            status="SUCCEEDED" if success else "FAILED",
            tracking_id=c.source_id,
            **kw,
        )
        self.redemptions[r.id] = r
        return r

    def pay_with_points(self, t_ms: int, o: Order) -> bool:
        """A member pays part of the order with points (the COIN reward): a redemption of the card with the order,
        the discount = whole `points_ratio` units of points × `exchange_ratio`, and a POINTS_REDEMPTION. Decided
        and applied at the moment the order is created, so the order's every copy shows the discount."""
        c, reward = o.customer, cat.PAY_WITH_POINTS
        if c.card is None or c.joined_ms >= t_ms or c.balance < cat.PAY_WITH_POINTS_MIN_BALANCE:
            return False
        if not self.force_pay_with_points and self.rng.random() >= 0.3:
            return False
        coin = reward["parameters"]["coin"]
        unit_cents = coin["exchange_ratio"] * 100
        units = min(c.balance // coin["points_ratio"], (o.amount - 100) // unit_cents)
        if units < 1:
            return False
        self.force_pay_with_points = False
        points = units * coin["points_ratio"]
        o.discount = units * unit_cents
        r = self.new_redemption(
            t_ms,
            c,
            campaign=cat.LOYALTY_CAMPAIGN,
            voucher=c.card,
            order=o,
            reward=reward,
            points=points,
            discount=o.discount,
            channel_type="USER" if o.location in cat.STORES else "API",
        )
        o.redemption_ids.append(r.id)
        self.emit_redemption(t_ms, r)
        self.ledger(t_ms, c, "POINTS_REDEMPTION", -points, order=o, redemption=r, reward=reward, source="API")
        return True

    def checkout_redemptions(self, t_ms: int, o: Order) -> None:
        rng, c = self.rng, o.customer
        voucher = c.open_vouchers[0] if c.open_vouchers and rng.random() < 0.75 else None
        if voucher is not None and rng.random() < 0.6:
            self.validation(t_ms - 200, c, voucher.code, True, voucher.campaign)  # checked, then redeemed
        elif voucher is None and c.open_vouchers and rng.random() < 0.3:
            # checked at the till but not used this time (it may be redeemed on a later order)
            self.validation(t_ms - 200, c, c.open_vouchers[0].code, True, c.open_vouchers[0].campaign)
        promo = cat.PROMOTION_CAMPAIGN["tier"]
        # The first checkout with a voucher always stacks the promotion too, so every world has a stack.
        first_stack = voucher is not None and not self.stacks
        use_promo = (o.amount >= promo["min_amount"] and rng.random() < (0.5 if voucher else 0.15)) or first_stack
        parts = []
        if voucher is not None:
            c.open_vouchers.pop(0)
            voucher.redeemed = True
            d = voucher.campaign["discount"]
            off = (
                d["amount_off"] if d["type"] == "AMOUNT" else min(o.amount * d["percent_off"] // 100, d["amount_limit"])
            )
            off = min(off, o.amount - 100)
            # a product-specific campaign discounts the order lines, not the cart
            on_items = off if d["effect"] == "APPLY_TO_ITEMS" else 0
            parts.append(dict(campaign=voucher.campaign, voucher=voucher, discount=off, items_discount=on_items))
        promo_off = min(promo["amount_off"], o.amount - 100 - sum(p["discount"] for p in parts))
        if use_promo and promo_off > 0:
            parts.append(dict(campaign=cat.PROMOTION_CAMPAIGN, promotion_tier=promo, discount=promo_off))
        if not parts:
            return
        channel = "USER" if o.location in cat.STORES else "API"
        o.discount = sum(p["discount"] for p in parts)
        o.items_discount = sum(p.get("items_discount", 0) for p in parts)
        if len(parts) == 2:
            self.stacks += 1
        if len(parts) == 1:
            r = self.new_redemption(t_ms, c, order=o, channel_type=channel, **parts[0])
            o.redemption_ids.append(r.id)
            self.emit_redemption(t_ms, r)
            return
        parent = self.new_redemption(t_ms, c, order=o, channel_type=channel, is_parent=True, discount=o.discount)
        for i, part in enumerate(parts):
            child = self.new_redemption(t_ms + 5 + i, c, order=o, channel_type=channel, parent_id=parent.id, **part)
            parent.children.append(child.id)
            o.redemption_ids.append(child.id)
        for i, cid in enumerate(parent.children):
            self.emit_redemption(t_ms + 5 + i, self.redemptions[cid])
        self.emit_redemption(t_ms + 10, parent)

    def redemption_order(self, r: Redemption) -> dict | None:
        """The order as it stood at the redemption: every redemption of an order happens at checkout, after the
        order was created and before it was paid, so CREATED with updated_at = created_at. A stack child's copy
        states what that child applied; so does the copy of a single redeemable whose id is even-numbered (the
        others state only the order's discount, as older records do)."""
        o = r.order
        if o is None:
            return None
        states_applied = r.parent_id or r.is_parent or int(r.id[-1], 16) % 2 == 0
        applied = (r.discount - r.items_discount, r.items_discount) if states_applied else None
        return order_obj(o, "CREATED", o.created_ms, applied=applied)

    def emit_redemption(self, t_ms: int, r: Redemption) -> None:
        c, rng = r.customer, self.rng
        legacy = self.webhooks.is_legacy(t_ms)
        order = self.redemption_order(r)
        status = None if legacy else r.status  # older records carry no status
        robj = redemption_obj(r, status, order)
        event_type = "redemption.succeeded" if r.result == "SUCCESS" else "redemption.failed"
        # A promotion tier names its campaign by id only; the event's campaign object is there half the time.
        campaign = campaign_obj(r.campaign) if r.campaign and (not r.promotion_tier or rng.random() < 0.5) else None
        # A few single redeemables reach the warehouse only through exports and Voucherify's Segment Event Cloud.
        r.webhooks_lost = r.result == "SUCCESS" and not (legacy or r.is_parent or r.parent_id) and rng.random() < 0.04
        if r.webhooks_lost:
            pass
        elif legacy:
            self.webhooks.legacy_event(event_type, t_ms, robj)
        else:
            self.webhooks.project_event(
                event_type,
                t_ms,
                {
                    "customer": customer_obj(c),
                    "order": order,
                    "campaign": campaign,
                    "voucher": voucher_obj(r.voucher) if r.voucher else None,
                    "holder": None,
                    "promotion_tier": robj.get("promotion_tier"),
                    "redemption": robj,
                    "created_at": iso3(t_ms),
                },
                entity_id=c.cust_id,
            )
        if r.result == "SUCCESS" and not r.webhooks_lost and rng.random() < 0.4:
            self.webhooks.distribution_event(
                "customer.redemption.succeeded",
                t_ms,
                {
                    "customer": customer_obj(c),
                    "order": order,
                    "campaign": campaign,
                    "voucher": voucher_obj(r.voucher) if r.voucher else None,
                    "holder": None,
                    "promotion_tier": robj.get("promotion_tier"),
                    "redemption": robj,
                },
                entity_id=c.cust_id,
            )
        if not r.is_parent and (r.webhooks_lost or rng.random() < 0.6):
            succeeded = r.result == "SUCCESS"
            own = {k: v for k, v in redemption_obj(r, r.status, None).items() if k not in ("customer", "voucher")}
            self.cloud(
                ("Customer Redemption Succeeded", "Redemption succeeded")
                if succeeded
                else ("Customer Redemption Failed", "Redemption failed"),
                "customer.redemption." + ("succeeded" if succeeded else "failed"),
                t_ms,
                c,
                {
                    "redemption": own,
                    "order": order,
                    "voucher": voucher_obj(r.voucher) if r.voucher else None,
                    "promotion_tier": robj.get("promotion_tier"),
                    "campaign": {"id": r.campaign["id"], "name": r.campaign["name"]} if r.campaign else None,
                },
            )
        self.exports.add("redemption", t_ms, r)
        self.truth.redemption_changed(r)

    def cloud(self, events: tuple[str, str], event_type: str, t_ms: int, c: Customer, objects: dict) -> None:
        """One event of Voucherify's Segment source, in either generation Segment documents (`events` = the name in
        the current one, the name in the first): flattened objects, or one `voucherifyEvent`."""
        if self.rng.random() < 0.5:
            self.segment.event_cloud(events[0], t_ms, c, objects)
        else:
            self.segment.event_cloud_first_generation(events[1], event_type, t_ms, c, objects)

    def failed_redemption(self, t_ms: int, c: Customer, code: str | None, order: Order | None = None) -> None:
        rng = self.rng
        if code is None:
            code = rng.choice(list(cat.REDEMPTION_FAILURE_CODES))
        campaign = voucher = None
        if code not in cat.UNRESOLVED_CODES:
            campaign = rng.choice(cat.DISCOUNT_CAMPAIGNS)
            voucher = Voucher(
                self.ids.alnum("v_", 32),
                campaign["prefix"] + f"{rng.randrange(10**6):06d}",
                campaign,
                c,
                "DISCOUNT_VOUCHER",
                t_ms - 30 * DAY_MS,
            )
        r = self.new_redemption(
            t_ms,
            c,
            result="FAILURE",
            failure_code=code,
            failure_message=cat.REDEMPTION_FAILURE_CODES[code],
            campaign=campaign,
            voucher=voucher,
            order=order if code not in ("missing_order", "invalid_order") else None,
            # an unresolvable code tried in a stack fails as a parent with no children (the vendor's example)
            stack_attempt=code == "not_found" and (not self.truth.counters.get("stack_attempts") or rng.random() < 0.5),
        )
        if r.stack_attempt:
            self.truth.count("stack_attempts")
        if r.order is not None:
            r.order.redemption_ids.append(r.id)
        elif c.home in cat.STORES:
            # At the till without an order: the POS records the store in the redemption's metadata, in the shapes
            # the vendor's examples show.
            shape = rng.random()
            if shape < 0.6:
                r.metadata = {"location_id": c.home}
            elif shape < 0.8:
                r.metadata = {"location_id": [c.home]}
            else:
                r.metadata = {"location_id": [], "redemption_location": {"city": c.home, "state": cat.REGIONS[c.home]}}
            r.location = c.home
        else:
            r.metadata = {"location_id": []}
        self.emit_redemption(t_ms, r)

    def do_failed_attempt(self, t_ms: int, c: Customer, code: str | None) -> None:
        if code is None and self.rng.random() < 0.5:
            self.validation(t_ms, c, self.guessed_code(), False, None)  # tried the code at validation first
        self.failed_redemption(t_ms, c, code)

    def rollback(self, t_ms: int, r: Redemption, reason: str) -> None:
        rb_id = self.ids.hex("rr_")
        r.status, r.rolled_back_ms = "ROLLED_BACK", t_ms
        legacy = self.webhooks.is_legacy(t_ms)
        o = r.order
        order_now = order_obj(o, o.status, o.updated_ms) if o else None
        rb = rollback_obj(rb_id, r, t_ms, order_now, failed=False, reason=reason)
        if legacy:
            self.webhooks.legacy_event("redemption.rollback.succeeded", t_ms, rb)
        else:
            sent_status = None if self.rng.random() < 0.2 else "SUCCEEDED"
            robj = redemption_obj(
                r, sent_status, self.redemption_order(r), rollbacks=[rb_id] if sent_status is None else None
            )
            self.webhooks.project_event(
                "redemption.rollback.succeeded",
                t_ms,
                {
                    "order": order_now,
                    "holder": None,
                    "voucher": voucher_obj(r.voucher) if r.voucher else None,
                    "campaign": campaign_obj(r.campaign) if r.campaign else None,
                    "customer": customer_obj(r.customer),
                    "redemption": robj,
                    "promotion_tier": robj.get("promotion_tier"),
                    "redemption_rollback": rb,
                },
                entity_id=r.customer.cust_id,
            )
            if self.rng.random() < 0.3:
                self.webhooks.distribution_event(
                    "customer.redemption.rollback.succeeded",
                    t_ms,
                    {
                        "customer": customer_obj(r.customer),
                        "order": order_now,
                        "redemption": robj,
                        "redemption_rollback": rb,
                    },
                    entity_id=r.customer.cust_id,
                )
        self.cloud(
            ("Customer Redemption Rollback Succeeded", "Redemption rollback succeeded"),
            "customer.redemption.rollback.succeeded",
            t_ms,
            r.customer,
            {
                "redemption": {"id": r.id, "status": "ROLLED_BACK", "date": iso6(r.date_ms)},
                "redemption_rollback": {k: val for k, val in rb.items() if k not in ("customer", "order", "voucher")},
            },
        )
        self.truth.redemption_changed(r)
        if r.reward is not None:
            self.at(t_ms + 700, self.do_refund_points, r, rb_id)
        if self.rng.random() < 0.25:
            self.at(t_ms + self.rng.randint(30_000, 6 * HOUR_MS), self.do_failed_rollback, r)

    def do_refund_points(self, t_ms: int, r: Redemption, rollback_id: str) -> None:
        self.ledger(t_ms, r.customer, "POINTS_REFUND", r.points, redemption=r, rollback_id=rollback_id, source="API")

    def do_failed_rollback(self, t_ms: int, r: Redemption) -> None:
        rb = rollback_obj(self.ids.hex("rrf_"), r, t_ms, None, failed=True, reason="Duplicate return scan")
        # The vendor's own alias, always on the first failed rollback so every world has it.
        first = not self.truth.counters.get("rollbacks_failed")
        status = "ROLLED BACK" if first or self.rng.random() < 0.4 else "ROLLED_BACK"
        robj = redemption_obj(r, status, self.redemption_order(r))
        self.webhooks.project_event(
            "redemption.rollback.failed",
            t_ms,
            {
                "order": None,
                "holder": None,
                "voucher": voucher_obj(r.voucher) if r.voucher else None,
                "campaign": campaign_obj(r.campaign) if r.campaign else None,
                "customer": customer_obj(r.customer),
                "redemption": robj,
                "promotion_tier": robj.get("promotion_tier"),
                "redemption_rollback": rb,
            },
            entity_id=r.customer.cust_id,
        )
        self.truth.count("rollbacks_failed")

    # ------------------------------------------------------------------------------------------------------
    # loyalty points

    def ledger(
        self,
        t_ms: int,
        c: Customer,
        tx_type: str,
        points: int,
        *,
        order: Order | None = None,
        order_in_details: bool = True,
        reason: str | None = None,
        source: str | None = None,
        rule: dict | None = None,
        redemption: Redemption | None = None,
        rollback_id: str | None = None,
        reward: dict | None = None,
        related: str | None = None,
        other_card: Voucher | None = None,
        tx_id: str | None = None,
        buckets: list | None = None,
    ) -> dict:
        """Apply one loyalty transaction to the card now and send it everywhere it goes. Called only at the
        simulation's current time, so created_at is the moment the balance changed and balance_after follows
        created_at; a later transaction is scheduled with `at` and applied when its time comes."""
        assert t_ms == self.now, (tx_type, t_ms, self.now)
        tx_id = tx_id or self.ids.hex("vtx_")
        # Two transactions of a card in the same millisecond: the second one is stamped a millisecond later.
        t_ms = max(t_ms, (c.last_ledger_ms or 0) + 1)
        c.last_ledger_ms = t_ms
        c.balance += points
        if points > 0:
            c.total += points
            # Every credit is a bucket that expires on its own (refunds and transfers included).
            c.buckets.append([self.ids.alnum("lopb_"), points, points, t_ms])
            self.truth.bucket_opened(t_ms, points)
            heapq.heappush(self.expiry_heap, (t_ms + self.expiry_ms, self.seq, c.idx))
            self.seq += 1
        elif tx_type != "POINTS_EXPIRATION":
            self._consume(c, -points, "burned" if MOVEMENTS[tx_type] == "burned" else "removed")
        details = {
            "balance": {
                "type": "loyalty_card",
                "total": c.total,
                "object": "balance",
                "points": points,
                "balance": c.balance,
                "related_object": {"id": c.card.id, "type": "voucher"},
            }
        }
        if order is not None and order_in_details:
            details["order"] = {"id": order.id, "source_id": order.source_id}
        if rule is not None:
            details["event"] = {"id": self.ids.hex("evcus_"), "type": "customer.order.paid"}
            details["earning_rule"] = {"id": rule["id"], "source": {"banner": rule["banner"]}}
        if redemption is not None:
            details["redemption"] = {"id": redemption.id}
        if rollback_id is not None:
            details["rollback"] = {"id": rollback_id}
        if reward is not None:
            details["reward"] = {"id": reward["id"], "name": reward["name"]}
        if tx_type == "POINTS_TRANSFER_OUT":
            details["destination_voucher"] = {"id": other_card.id, "code": other_card.code, "type": "LOYALTY_CARD"}
        if tx_type == "POINTS_TRANSFER_IN":
            details["source_voucher"] = {"id": other_card.id, "code": other_card.code, "type": "LOYALTY_CARD"}
        tx = {
            "id": tx_id,
            "source_id": None,
            "voucher_id": c.card.id,
            "campaign_id": cat.LOYALTY_CAMPAIGN["id"],
            "source": source,
            "reason": reason,
            "type": tx_type,
            "details": details,
            "related_transaction_id": related,
            # The expiry job runs on whole seconds and is sent without fractional digits.
            "created_at": iso0(t_ms) if t_ms % 1000 == 0 else iso6(t_ms),
        }
        camp = campaign_obj(cat.LOYALTY_CAMPAIGN)
        card = voucher_obj(c.card, c.balance, c.total)
        wh = self.webhooks
        wh.project_event(
            "voucher.loyalty_card.transaction.created",
            t_ms,
            {
                "transaction": tx,
                "voucher": card,
                "campaign": camp,
                "holder": customer_obj(c),
                "holder_loyalty_tier": tier_obj(c.tier) if c.tier is not None and not c.tier_left else None,
                "balance": details["balance"],
                "order": order_obj(order, order.status, order.updated_ms) if order and order_in_details else None,
                "event": details.get("event"),
                "earning_rule": {
                    "id": rule["id"],
                    "campaign_id": cat.LOYALTY_CAMPAIGN["id"],
                    "parameters": {"event": "order.paid", "banner": rule["banner"], "loyalty": {"type": rule["type"]}},
                    "active": True,
                }
                if rule
                else None,
                "segment": None,
                "loyalty_tier": None,
                "redemption": details.get("redemption"),
                "rollback": details.get("rollback"),
                "reward": details.get("reward"),
                "custom_event": None,
                "source_voucher": details.get("source_voucher"),
                "destination_voucher": details.get("destination_voucher"),
            },
            entity_id=c.cust_id,
        )
        if tx_type in ("POINTS_ACCRUAL", "POINTS_ADDITION", "PENDING_POINTS_ACTIVATION"):
            balance = dict(details["balance"], operation_type="AUTOMATIC" if rule else "MANUAL")
            if self.rng.random() < 0.6:
                wh.project_event(
                    "voucher.loyalty_card.points_added",
                    t_ms,
                    {
                        "voucher": card,
                        "balance": balance,
                        "campaign": camp,
                        "customer": customer_obj(c),
                        "transaction": tx,
                    },
                    entity_id=c.cust_id,
                )
            if not self.typo_sent or self.rng.random() < 0.3:
                typo = not self.typo_sent or self.rng.random() < 0.2  # the vendor's `points_aded`, at least once
                self.typo_sent = True
                wh.distribution_event(
                    "customer.voucher.loyalty_card.points_added",
                    t_ms,
                    {
                        "customer": customer_obj(c),
                        "campaign": camp,
                        "voucher": card,
                        "balance": balance,
                        "transaction": tx,
                    },
                    entity_id=c.cust_id,
                    canonical_as_sent="customer.voucher.loyalty_card.points_aded" if typo else None,
                )
        if tx_type == "POINTS_EXPIRATION":
            data = {
                "voucher": card,
                "points": -points,
                "campaign": camp,
                "customer": customer_obj(c),
                "buckets": buckets,
                "transaction": tx,
            }
            wh.project_event("voucher.loyalty_card.points_expired", t_ms, data, entity_id=c.cust_id)
            if self.rng.random() < 0.3:
                wh.distribution_event("customer.voucher.loyalty_card.points_expired", t_ms, data, entity_id=c.cust_id)
        if tx_type == "POINTS_ACCRUAL" and self.rng.random() < 0.4:
            rewarded = {
                "customer": customer_obj(c),
                "holder": customer_obj(c),
                "voucher": card,
                "campaign": camp,
                "loyalty_tier": tier_obj(c.tier) if c.tier is not None else None,
                "earning_rule": {"id": rule["id"], "event": "order.paid", "loyalty": {"type": rule["type"]}},
                "balance": dict(details["balance"], operation_type="AUTOMATIC"),
                "order": order_obj(order, order.status, order.updated_ms) if order else None,
                "event": details.get("event"),
            }
            wh.distribution_event("customer.rewarded.loyalty_points", t_ms, rewarded, entity_id=c.cust_id)
            if self.rng.random() < 0.5:
                self.cloud(
                    ("Customer Rewarded Loyalty Points", "Customer rewarded with loyalty points"),
                    "customer.rewarded.loyalty_points",
                    t_ms,
                    c,
                    {
                        "balance": {"points": points, "balance": c.balance},
                        "earning_rule": {"id": rule["id"]},
                        "order": {"id": order.id} if order else None,
                        "voucher": {"id": c.card.id, "code": c.card.code},
                    },
                )
        self.exports.add("voucher_transactions", t_ms, tx)
        self.truth.ledger_row(tx_id, t_ms, c, tx_type, points, c.balance, order, rule, reward)
        if order is not None and MOVEMENTS[tx_type] in ("earned", "adjusted"):
            order.points_earned += points  # net of what a return took back
        self.at(t_ms + 900, self.do_update_tier, c)  # the tier follows the balance as it stands then
        return tx

    def _consume(self, c: Customer, points: int, spent_as: str) -> None:
        """Spend points from the oldest buckets first (`spent_as`: burned, or removed by a removal or transfer)."""
        for bucket in c.buckets:
            if points <= 0:
                break
            take = min(bucket[1], points)
            bucket[1] -= take
            points -= take
            self.truth.bucket_spent(bucket[3], take, spent_as)
        c.buckets = [b for b in c.buckets if b[1] > 0]

    def do_earn_points(self, t_ms: int, o: Order, new_store: bool) -> None:
        """The earning rules run on the paid order; `new_store` was decided at payment (first visit there)."""
        if o.status not in ("PAID", "FULFILLED"):
            return  # returned before the automation ran
        c = o.customer
        base = (o.amount - o.discount) // 100
        if base > 0:
            self.ledger(
                t_ms, c, "POINTS_ACCRUAL", base, order=o, rule=cat.EARNING_RULES["per_unit"], source="Automation"
            )
        if new_store:
            self.at(t_ms + 400, self.do_new_store_bonus, o)
        reward = cat.REWARDS[0] if c.balance < cat.REWARDS[1]["points"] else self.rng.choice(cat.REWARDS)
        if c.balance >= reward["points"] and self.rng.random() < 0.35:
            self.at(t_ms + self.rng.randint(1, 72) * HOUR_MS, self.do_reward, c, reward)

    def do_new_store_bonus(self, t_ms: int, o: Order) -> None:
        if o.status in ("PAID", "FULFILLED"):
            self.ledger(
                t_ms,
                o.customer,
                "POINTS_ACCRUAL",
                cat.NEW_STORE_BONUS,
                order=o,
                rule=cat.EARNING_RULES["new_store"],
                source="Automation",
            )

    def add_pending_points(self, t_ms: int, c: Customer, o: Order) -> None:
        """App orders earn pending points that activate days later (a ledger row only on activation)."""
        points = (o.amount - o.discount) // 100
        if points <= 0:
            return
        o.pending = (self.ids.hex("lopp_"), points, t_ms + cat.PENDING_POINTS_DAYS * DAY_MS)
        self.pending_points_event("voucher.loyalty_card.pending_points.added", t_ms, o)
        self.at(o.pending[2], self.do_activate_pending, o)

    def pending_points_event(self, event_type: str, t_ms: int, o: Order, transaction: dict | None = None) -> None:
        c = o.customer
        pp_id, points, activates_ms = o.pending
        pending = {
            "id": pp_id,
            "voucher_id": c.card.id,
            "campaign_id": cat.LOYALTY_CAMPAIGN["id"],
            "customer_id": c.cust_id,
            "order_id": o.id,
            "points": points,
            "activates_at": iso6(activates_ms)[:10],
            "details": {
                "order": {"id": o.id, "source_id": o.source_id},
                "earning_rule": {"id": cat.EARNING_RULES["per_unit"]["id"]},
            },
            "created_at": iso6(activates_ms - cat.PENDING_POINTS_DAYS * DAY_MS),
        }
        data = {
            "customer": customer_obj(c),
            "campaign": campaign_obj(cat.LOYALTY_CAMPAIGN),
            "voucher": voucher_obj(c.card, c.balance, c.total),
            "voucher_pending_points_balance": {"pending_points": points},
            "order": order_obj(o, o.status, o.updated_ms),
            "pending_points": pending,
        }
        if transaction is not None:
            data["transaction"] = transaction
        self.webhooks.project_event(event_type, t_ms, data, entity_id=c.cust_id)
        if self.rng.random() < 0.4:
            self.webhooks.distribution_event("customer." + event_type, t_ms, data, entity_id=c.cust_id)

    def do_activate_pending(self, t_ms: int, o: Order) -> None:
        if o.pending is None or o.status not in ("PAID", "FULFILLED"):
            return
        c = o.customer
        tx = self.ledger(
            t_ms,
            c,
            "PENDING_POINTS_ACTIVATION",
            o.pending[1],
            order=o,
            rule=cat.EARNING_RULES["per_unit"],
            source="Automation",
        )
        self.pending_points_event("voucher.loyalty_card.pending_points.activated", t_ms, o, transaction=tx)
        o.pending = None

    def do_reward(self, t_ms: int, c: Customer, reward: dict) -> None:
        if c.balance < reward["points"]:
            return
        r = self.new_redemption(
            t_ms,
            c,
            campaign=cat.LOYALTY_CAMPAIGN,
            voucher=c.card,
            reward=reward,
            points=reward["points"],
            channel_type="API",
        )
        self.emit_redemption(t_ms, r)
        tx = self.ledger(t_ms, c, "POINTS_REDEMPTION", -reward["points"], redemption=r, reward=reward, source="API")
        self.webhooks.distribution_event(
            "customer.reward_redemptions.completed",
            t_ms + 400,
            {
                "customer": customer_obj(c),
                "holder": customer_obj(c),
                "voucher": voucher_obj(c.card, c.balance, c.total),
                "campaign": campaign_obj(cat.LOYALTY_CAMPAIGN),
                "reward": {"id": reward["id"], "name": reward["name"]},
                "reward_redemption": {"id": self.ids.hex("rrd_"), "status": "COMPLETED", "redemption_id": r.id},
                "balance": tx["details"]["balance"],
            },
            entity_id=c.cust_id,
        )
        if self.rng.random() < 0.2:
            self.at(t_ms + self.rng.randint(1, 48) * HOUR_MS, self.do_refund_reward, r)

    def do_refund_reward(self, t_ms: int, r: Redemption) -> None:
        if r.status == "SUCCEEDED":
            self.rollback(t_ms, r, "Reward refunded")

    def do_expire_points(self, t_ms: int) -> None:
        due: dict[int, None] = {}
        while self.expiry_heap and self.expiry_heap[0][0] <= t_ms:
            _, _, idx = heapq.heappop(self.expiry_heap)
            due[idx] = None
        for idx in due:
            # The job works through the cards one by one over a quarter of an hour.
            self.at(t_ms + (idx % 900) * 1000, self.do_expire_card, self.customers[idx], t_ms)

    def do_expire_card(self, t_ms: int, c: Customer, job_ms: int) -> None:
        """Expire the card's buckets that were due when the job started, as they stand now."""
        expired, buckets = 0, []
        keep = []
        for bucket in c.buckets:
            if bucket[3] + self.expiry_ms <= job_ms:
                if bucket[1] > 0:
                    expired += bucket[1]
                    self.truth.bucket_spent(bucket[3], bucket[1], "expired")
                    buckets.append(
                        {
                            "id": bucket[0],
                            "voucher_id": c.card.id,
                            "campaign_id": cat.LOYALTY_CAMPAIGN["id"],
                            "bucket": {"total_points": bucket[1]},
                            "status": "EXPIRED",
                            "expires_at": iso6(bucket[3] + self.expiry_ms)[:10],
                            "created_at": iso6(bucket[3]),
                            "object": "loyalty_points_bucket",
                        }
                    )
            else:
                keep.append(bucket)
        c.buckets = keep
        if expired > 0:
            self.ledger(t_ms, c, "POINTS_EXPIRATION", -expired, source="Automation", buckets=buckets)

    def do_program_ops(self, t_ms: int) -> None:
        """Schedule the program team's manual work: adjustments, transfers and tier exits."""
        rng, start, end = self.rng, self.start_ms, self.end_ms
        n = len(self.customers)
        for c in self.customers:
            if not c.wants_card:
                continue
            if rng.random() < 0.08:
                self.at(self.rand_time(start + DAY_MS, end), self.do_adjust, c, 1)
            if rng.random() < 0.03:
                self.at(self.rand_time(start + 2 * DAY_MS, end), self.do_adjust, c, -1)
            if rng.random() < 0.03:
                self.at(self.rand_time(start + 3 * DAY_MS, end), self.do_transfer, c, self.customers[rng.randrange(n)])
            if rng.random() < 0.02:
                self.at(self.rand_time(start + 5 * DAY_MS, end), self.do_tier_left, c)
        self.at(end - 2 * DAY_MS, self.do_showcase)

    def do_showcase(self, t_ms: int) -> None:
        """Guarantee each rare kind at least once in any world with two members: one step per action time, so
        every balance change is applied in time order."""
        members = [c for c in self.members if c.tier is not None and not c.tier_left]
        if len(members) >= 2:
            a = max(members, key=lambda m: m.balance)  # the richest card can always give some away
            b = members[0] if a is not members[0] else members[1]
            self.at(t_ms, self.do_adjust, a, 1)
            self.at(t_ms + HOUR_MS, self.do_adjust, a, -1)
            self.at(t_ms + 2 * HOUR_MS, self.do_transfer, a, b)
            self.at(t_ms + 3 * HOUR_MS, self.do_tier_left, members[-1])
        self.at(t_ms + 4 * HOUR_MS, self.do_showcase_return)
        self.at(t_ms + 4 * HOUR_MS + MINUTE_MS, self.do_showcase_pos_return)
        self.at(t_ms + 5 * HOUR_MS, self.do_showcase_refund)
        self.at(t_ms + 8 * HOUR_MS, self.do_showcase_failed_rollback)
        self.at(t_ms + 10 * HOUR_MS, self.do_showcase_pending)
        self.at(t_ms + 11 * HOUR_MS, self.do_showcase_economics)

    def _ledger_has(self, tx_type: str) -> bool:
        return any(row[3] == tx_type for row in self.truth.ledger)

    def do_showcase_return(self, t_ms: int) -> None:
        if not any(o.status == "CANCELED" for o in self.orders.values()):
            paid = [o for o in self.orders.values() if o.status in ("PAID", "FULFILLED")]
            if paid:
                self.do_cancel(t_ms, paid[-1], "Returned")

    def do_showcase_pos_return(self, t_ms: int) -> None:
        """A store return that keeps some products, so a replacement order names its origin."""
        if any(o.origin is not None for o in self.orders.values()):
            return
        paid = [o for o in self.orders.values() if o.status in ("PAID", "FULFILLED") and o.location in cat.STORES]
        with_points = [o for o in paid if len(o.items) > 1 and o.points_earned > 0]
        several = with_points or [o for o in paid if len(o.items) > 1]
        if several:
            self.do_pos_return(t_ms, several[-1], "Returned", len(several[-1].items) - 1)

    def do_showcase_refund(self, t_ms: int) -> None:
        if self._ledger_has("POINTS_REFUND"):
            return
        rewards = [r for r in self.redemptions.values() if r.reward is not None and r.status == "SUCCEEDED"]
        if rewards:
            self.rollback(t_ms, rewards[0], "Reward refunded")
            return
        rich = [m for m in self.members if m.balance >= cat.REWARDS[0]["points"]]
        if rich:
            self.do_reward(t_ms, rich[0], cat.REWARDS[0])
            rewards = [r for r in self.redemptions.values() if r.reward is not None and r.status == "SUCCEEDED"]
            self.at(t_ms + HOUR_MS, self.do_refund_reward, rewards[0])

    def do_showcase_failed_rollback(self, t_ms: int) -> None:
        if self.truth.counters.get("rollbacks_failed"):
            return
        rolled = [r for r in self.redemptions.values() if r.status == "ROLLED_BACK"]
        if rolled:
            self.do_failed_rollback(t_ms, rolled[0])
            return
        succeeded = [r for r in self.redemptions.values() if r.status == "SUCCEEDED" and not r.is_parent]
        if succeeded:
            self.rollback(t_ms, succeeded[0], "Fraud prevention")
            self.at(t_ms + HOUR_MS, self.do_failed_rollback, succeeded[0])

    def do_showcase_pending(self, t_ms: int) -> None:
        if not self._ledger_has("PENDING_POINTS_ACTIVATION"):
            waiting = [o for o in self.orders.values() if o.pending is not None and o.status in ("PAID", "FULFILLED")]
            if waiting:
                self.do_activate_pending(t_ms, waiting[0])  # activated early

    def do_showcase_economics(self, t_ms: int) -> None:
        """A failed publication, a valid and an invalid validation and a payment with points, at least once."""
        counters = self.truth.counters
        if not counters.get("publications_failed"):
            self.do_failed_publication(t_ms, self.customers[0], cat.DISCOUNT_CAMPAIGNS[0])
        if not counters.get("validations_invalid"):
            self.validation(t_ms, self.customers[-1], self.guessed_code(), False, None)
        if not counters.get("validations_valid"):
            held = [v for v in self.vouchers if v.kind == "DISCOUNT_VOUCHER"]
            if held:
                self.validation(t_ms, held[0].holder, held[0].code, True, held[0].campaign)
        if not self._ledger_has_reward(cat.PAY_WITH_POINTS["id"]):
            rich = [m for m in self.members if m.balance >= cat.PAY_WITH_POINTS_MIN_BALANCE]
            if rich:
                self.force_pay_with_points = True
                self.at(t_ms + MINUTE_MS, self.do_order, rich[0])

    def _ledger_has_reward(self, reward_id: str) -> bool:
        return any(row[8] is not None and row[8]["id"] == reward_id for row in self.truth.ledger)

    def do_adjust(self, t_ms: int, c: Customer, sign: int) -> None:
        if c.card is None:
            return
        if sign > 0:
            self.ledger(
                t_ms,
                c,
                "POINTS_ADDITION",
                self.rng.choice([25, 50, 100]),
                reason="Goodwill",
                source="voucherify-web-ui",
            )
        else:
            take = min(self.rng.choice([20, 40]), c.balance)
            if take > 0:
                self.ledger(t_ms, c, "POINTS_REMOVAL", -take, reason="Correction", source="voucherify-web-ui")

    def do_transfer(self, t_ms: int, a: Customer, b: Customer) -> None:
        if a.card is None or b.card is None or a is b or a.balance < 1:
            return
        pts = min(a.balance, self.rng.choice([20, 50, 100]))
        out_id, in_id = self.ids.hex("vtx_"), self.ids.hex("vtx_")
        self.ledger(
            t_ms,
            a,
            "POINTS_TRANSFER_OUT",
            -pts,
            related=in_id,
            other_card=b.card,
            tx_id=out_id,
            reason="Family pooling",
            source="API",
        )
        self.ledger(
            t_ms,
            b,
            "POINTS_TRANSFER_IN",
            pts,
            related=out_id,
            other_card=a.card,
            tx_id=in_id,
            reason="Family pooling",
            source="API",
        )

    # ------------------------------------------------------------------------------------------------------
    # tiers

    @staticmethod
    def tier_for(balance: int) -> int:
        idx = 0
        for i, tier in enumerate(cat.TIERS):
            if balance >= tier["points"]["from"]:
                idx = i
        return idx

    def do_update_tier(self, t_ms: int, c: Customer) -> None:
        if c.tier is None or c.tier_left:
            return
        new = self.tier_for(c.balance)
        if new > c.tier:
            self._tier_event(t_ms, c, "upgraded", c.tier, new)
        elif new < c.tier:
            self._tier_event(t_ms, c, "downgraded", c.tier, new)
        elif self.rng.random() < 0.01:
            self._tier_event(t_ms, c, "prolonged", None, new)

    def do_tier_left(self, t_ms: int, c: Customer) -> None:
        if c.tier is not None and not c.tier_left:
            self._tier_event(t_ms, c, "left", None, c.tier)

    def _tier_event(self, t_ms: int, c: Customer, kind: str, from_idx: int | None, to_idx: int) -> None:
        t_ms = max(t_ms, (c.last_tier_ms or 0) + 1)  # the latest tier event must be unambiguous
        c.last_tier_ms = t_ms
        data = {"customer": customer_obj(c), "campaign": campaign_obj(cat.LOYALTY_CAMPAIGN)}
        if kind in ("upgraded", "downgraded"):
            data["loyalty_tier_from"] = tier_obj(from_idx)
            data["loyalty_tier_to"] = tier_obj(to_idx)
        else:
            data["loyalty_tier"] = tier_obj(to_idx)
        data["created_at"] = iso3(t_ms)
        self.webhooks.distribution_event(f"customer.loyalty.tier.{kind}", t_ms, data, entity_id=c.cust_id)
        if kind == "left":
            c.tier_left = True
        else:
            c.tier = to_idx
        to_name = cat.TIERS[to_idx]["name"]
        if kind == "left":
            self.truth.tier_event(c, kind, to_name, None, t_ms)
        else:
            self.truth.tier_event(
                c,
                kind,
                cat.TIERS[from_idx]["name"] if from_idx is not None else to_name if kind == "prolonged" else None,
                to_name,
                t_ms,
            )

    # ------------------------------------------------------------------------------------------------------
    # Segment

    def do_segment_load(self, t_ms: int) -> None:
        self.segment.flush_load()

    # ------------------------------------------------------------------------------------------------------
    # exports
    def do_export(self, t_ms: int, final: bool) -> None:
        """One round of Exports API downloads (voucherify.Exports); the malformed row it may write is expected."""
        bad_rows = self.exports.write_round(
            t_ms,
            final,
            customers=self.customers,
            vouchers=self.vouchers,
            members=self.members,
            expiry_ms=self.expiry_ms,
            aggregates=self.truth.customer_aggregates,
        )
        if bad_rows:
            self.truth.expected_rejection("voucherify_exports", bad_rows)
