"""The simulation's objects. Plain slotted classes: 200k customers and their orders must fit comfortably in memory."""

from __future__ import annotations


class Customer:
    __slots__ = (
        "idx",
        "cust_id",
        "source_id",
        "name",
        "first",
        "last",
        "email",
        "region",
        "home",
        "wants_card",
        "card",
        "joined_ms",
        "balance",
        "total",
        "buckets",
        "tier",
        "tier_left",
        "visited",
        "anon_id",
        "open_vouchers",
        "created_ms",
        "announced",
        "pos_identified",
        "app_identified",
        "web_identified",
        "pre_window_succeeded",
        "pre_window_order_cents",
        "pre_window_orders",
        "last_tier_ms",
        "last_ledger_ms",
    )

    def __init__(self, **kw):
        for key in self.__slots__:
            setattr(self, key, kw.get(key))


class Voucher:
    __slots__ = ("id", "code", "campaign", "holder", "kind", "created_ms", "publication_id", "redeemed")

    def __init__(self, id, code, campaign, holder, kind, created_ms):
        self.id, self.code, self.campaign, self.holder, self.kind, self.created_ms = (
            id,
            code,
            campaign,
            holder,
            kind,
            created_ms,
        )
        self.publication_id = None
        self.redeemed = False


class Order:
    __slots__ = (
        "id",
        "source_id",
        "customer",
        "location",
        "location_key",
        "created_ms",
        "updated_ms",
        "status",
        "amount",
        "discount",
        "items",
        "omit_total",
        "redemption_ids",
        "points_earned",
        "history",
        "pending",
    )

    def __init__(self, **kw):
        for key in self.__slots__:
            setattr(self, key, kw.get(key))
        self.redemption_ids = []
        self.points_earned = 0
        self.history = []  # (status, updated_ms) in order of change


class Redemption:
    """One redemption id: single redeemables (rows of fct_redemptions) and stack parents alike."""

    __slots__ = (
        "id",
        "date_ms",
        "result",
        "status",
        "failure_code",
        "failure_message",
        "customer",
        "campaign",
        "voucher",
        "promotion_tier",
        "order",
        "channel_type",
        "discount",
        "rolled_back_ms",
        "parent_id",
        "is_parent",
        "reward",
        "points",
        "children",
        "tracking_id",
    )

    def __init__(self, **kw):
        for key in self.__slots__:
            setattr(self, key, kw.get(key))

    @property
    def campaign_name(self) -> str | None:
        return self.campaign["name"] if self.campaign else None
