"""The simulation's objects: slotted dataclasses, so 200k customers and their orders fit comfortably in memory and a
mistyped attribute fails at once instead of quietly creating a new one."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True, eq=False)
class Customer:
    idx: int
    cust_id: str
    source_id: str
    first: str
    last: str
    name: str
    email: str | None
    region: str
    home: str  # where the customer usually shops: a store, "Mobile App" or "Web"
    wants_card: bool
    anon_id: str
    created_ms: int
    postal_code: str | None = None
    card: Voucher | None = None
    joined_ms: int | None = None
    balance: int = 0
    total: int = 0
    buckets: list = field(default_factory=list)  # [bucket id, points left, points credited, credited ms]
    tier: int | None = None
    tier_left: bool = False
    visited: set = field(default_factory=set)
    open_vouchers: list = field(default_factory=list)
    announced: bool = False
    pos_identified: bool = False
    app_identified: bool = False
    web_identified: bool = False
    traits: dict = field(default_factory=dict)  # the Segment identify traits sent so far, latest value each
    pre_window_succeeded: int = 0
    pre_window_order_cents: int = 0
    pre_window_orders: int = 0
    last_tier_ms: int | None = None
    last_ledger_ms: int | None = None


@dataclass(slots=True, eq=False)
class Voucher:
    id: str
    code: str
    campaign: dict
    holder: Customer
    kind: str
    created_ms: int
    publication_id: str | None = None
    redeemed: bool = False


@dataclass(slots=True, eq=False)
class Order:
    id: str
    source_id: str
    customer: Customer
    location: str
    location_key: str | None  # where the order names its store: metadata location_id, location, or nowhere
    created_ms: int
    updated_ms: int
    status: str
    amount: int
    items: list
    omit_total: bool
    omit_total_discount: bool = False  # copies name only the discount's parts
    discount: int = 0  # whole discount, cents
    items_discount: int = 0  # the part applied to order lines (product-specific campaigns)
    sends_updated_at: bool = True  # False: every copy of this order leaves updated_at out
    origin: Order | None = None  # the order a POS return replaced with this one
    redemption_ids: list = field(default_factory=list)
    points_earned: int = 0  # net: earned for this order minus what a return took back
    history: list = field(default_factory=list)  # (status, updated_ms) in order of change
    pending: tuple | None = None


@dataclass(slots=True, eq=False)
class Redemption:
    """One redemption id: single redeemables (rows of fct_redemptions) and stack parents alike."""

    id: str
    date_ms: int
    result: str
    status: str
    customer: Customer
    failure_code: str | None = None
    failure_message: str | None = None
    campaign: dict | None = None
    voucher: Voucher | None = None
    promotion_tier: dict | None = None
    order: Order | None = None
    channel_type: str = "API"
    discount: int = 0
    items_discount: int = 0  # the part of `discount` applied to order lines
    rolled_back_ms: int | None = None
    parent_id: str | None = None
    is_parent: bool = False
    reward: dict | None = None
    points: int | None = None
    children: list = field(default_factory=list)
    tracking_id: str | None = None
    metadata: dict = field(default_factory=dict)  # the POS records where it happened here when there is no order
    location: str | None = None  # that place, as the marts should read it
    stack_attempt: bool = False  # a failed stack attempt: shaped as a parent, no children, counted once
    webhooks_lost: bool = False  # seen only through exports and Voucherify's Segment Event Cloud

    @property
    def campaign_name(self) -> str | None:
        return self.campaign["name"] if self.campaign else None
