"""The retailer: stores, products, campaigns, earning rules, tiers, rewards and the vendor failure codes."""

from __future__ import annotations

STORES = ["New York", "London", "Paris", "Warsaw", "Vancouver", "Lima"]
DIGITAL = ["Mobile App", "Web"]
LOCATIONS = STORES + DIGITAL

PROJECT_ID = "proj_loyaltydemo01"
TARGET_URL = "https://hooks.example.com/voucherify"

PRODUCTS = [
    # (product_id, sku source_id, name, category, price cents)
    ("prod_0a1b2c3d4e5f600001", "star-th-bottle", "Star Thermal Bottle", "Drinkware", 2500),
    ("prod_0a1b2c3d4e5f600002", "adv-mug", "Adventure Mug", "Drinkware", 1200),
    ("prod_0a1b2c3d4e5f600003", "trail-cap", "Trail Cap", "Apparel", 1999),
    ("prod_0a1b2c3d4e5f600004", "fleece-hoodie", "Fleece Hoodie", "Apparel", 5900),
    ("prod_0a1b2c3d4e5f600005", "canvas-tote", "Canvas Tote", "Bags", 1450),
    ("prod_0a1b2c3d4e5f600006", "day-pack", "Day Pack 20L", "Bags", 7900),
    ("prod_0a1b2c3d4e5f600007", "cold-brew", "Cold Brew Kit", "Coffee", 3450),
    ("prod_0a1b2c3d4e5f600008", "beans-1kg", "House Beans 1 kg", "Coffee", 2299),
]

LOYALTY_CAMPAIGN = {
    "id": "camp_LoyaltyProgram0000000001",
    "name": "Loyalty Program",
    "campaign_type": "LOYALTY_PROGRAM",
    "type": "AUTO_UPDATE",
    "voucher_type": "LOYALTY_CARD",
}

# Discount campaigns whose vouchers are published to customers.
DISCOUNT_CAMPAIGNS = [
    {
        "id": "camp_Welcome10000000000000001",
        "name": "Welcome 10",
        "campaign_type": "DISCOUNT_COUPONS",
        "type": "STATIC",
        "discount": {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ORDER"},
        "prefix": "WELCOME-",
    },
    {
        "id": "camp_Spring15000000000000002",
        "name": "Spring 15%",
        "campaign_type": "DISCOUNT_COUPONS",
        "type": "AUTO_UPDATE",
        # product-specific: the discount lands on the order lines (items_discount_amount), as in the vendor's example
        "discount": {"type": "PERCENT", "percent_off": 15, "amount_limit": 3000, "effect": "APPLY_TO_ITEMS"},
        "prefix": "SPRING-",
    },
    {
        "id": "camp_Comeback5000000000000003",
        "name": "Come Back 5",
        "campaign_type": "DISCOUNT_COUPONS",
        "type": "STATIC",
        "discount": {"type": "AMOUNT", "amount_off": 500, "effect": "APPLY_TO_ORDER"},
        "prefix": "BACK-",
    },
]

# A promotion (no voucher code): redeemed through its tier.
PROMOTION_CAMPAIGN = {
    "id": "camp_BlackFriday0000000000004",
    "name": "Black Friday",
    "campaign_type": "PROMOTION",
    "type": "AUTO_UPDATE",
    "tier": {"id": "promo_BlackFridaySpend50Get5", "name": "Spend 50 get 5 off", "amount_off": 500, "min_amount": 5000},
}

EARNING_RULES = {
    "per_unit": {"id": "ern_PointsPerUnit00000000001", "banner": "1 point per currency unit", "type": "PROPORTIONAL"},
    "new_store": {
        "id": "ern_NewStoreBonus0000000002",
        "banner": "Bonus for a first visit to a new store",
        "type": "FIXED",
    },
}
NEW_STORE_BONUS = 50

# Tiers by points balance.
TIERS = [
    {"id": "ltr_0f1ac501ef53236a01", "name": "Bronze", "points": {"from": 0, "to": 199}},
    {"id": "ltr_0f1ac501ef53236a02", "name": "Silver", "points": {"from": 200, "to": 599}},
    {"id": "ltr_0f1ac501ef53236a03", "name": "Gold", "points": {"from": 600, "to": None}},
]

REWARDS = [
    {"id": "rew_FiveOffReward000000000001", "name": "5 off next order", "points": 150, "type": "CAMPAIGN"},
    {"id": "rew_FreeMugReward0000000002", "name": "Free Adventure Mug", "points": 400, "type": "MATERIAL"},
]
# Pay with points: a COIN reward redeemed at checkout, `points_ratio` points worth `exchange_ratio` currency units
# (the vendor's own example: "100 Points = $20" is exchange_ratio 20, points_ratio 100).
PAY_WITH_POINTS = {
    "id": "rew_PayWithPoints00000000003",
    "name": "Pay with points (20 points = 1.00)",
    "type": "COIN",
    "parameters": {"coin": {"exchange_ratio": 1, "points_ratio": 20}},
}
PAY_WITH_POINTS_MIN_BALANCE = 100

# Why a publication fails (the vendor's error keys).
PUBLICATION_FAILURES = {
    "no_voucher_suitable_for_publication": "Lack of vouchers suitable for publication",
    "customer_rules_violated": "Customer did not match the segment",
}

POINTS_EXPIRY_DAYS = 21  # at most; short worlds use a third of their days so expiries still happen
PENDING_POINTS_DAYS = 3

# Every redemption failure code the vendor documents (already_rolled_back is a rollback failure).
REDEMPTION_FAILURE_CODES = {
    "resource_not_found": "Resource not found",
    "not_found": "Voucher not found",
    "voucher_not_active": "Voucher not active",
    "voucher_not_active_now": "Voucher not active now",
    "voucher_expired": "Voucher expired",
    "voucher_disabled": "Voucher disabled",
    "quantity_exceeded": "Quantity exceeded",
    "gift_amount_exceeded": "Gift amount exceeded",
    "loyalty_card_points_exceeded": "Loyalty card points exceeded",
    "customer_rules_violated": "Customer does not match validation rules",
    "order_rules_violated": "Order does not match validation rules",
    "redemption_rules_violated": "Redemption does not match validation rules",
    "promotion_inactive": "Promotion inactive",
    "promotion_not_active_now": "Promotion not active now",
    "referrer_not_permitted_to_redeem": "Referrer not permitted to redeem",
    "invalid_order": "Invalid order",
    "invalid_amount": "Invalid amount",
    "missing_amount": "Missing amount",
    "missing_order": "Missing order",
    "missing_order_items": "Missing order items",
    "missing_order_items_amount": "Missing order items amount",
    "missing_customer": "Missing customer",
    "invalid_customer": "Invalid customer",
    "missing_reward": "Missing reward",
    "multiple_requests": "Multiple requests",
    "no_applicable_redeemables": "No applicable redeemables",
}
ROLLBACK_FAILURE = ("already_rolled_back", "Already rolled back")
# Failures where the vendor cannot resolve the redeemable: voucher and campaign are null in the payload.
UNRESOLVED_CODES = {
    "resource_not_found",
    "not_found",
    "missing_customer",
    "invalid_customer",
    "multiple_requests",
    "no_applicable_redeemables",
    "missing_reward",
}

FIRST_NAMES = [
    "Alex",
    "Maria",
    "Jan",
    "Sofia",
    "Liam",
    "Emma",
    "Noah",
    "Olivia",
    "Mateo",
    "Zofia",
    "Lucas",
    "Chloe",
    "Ethan",
    "Mia",
    "Hugo",
    "Ava",
    "Oskar",
    "Lena",
    "Diego",
    "Nina",
]
LAST_NAMES = [
    "Smith",
    "Kowalski",
    "Dubois",
    "Garcia",
    "Brown",
    "Nowak",
    "Martin",
    "Lopez",
    "Wilson",
    "Lee",
    "Bernard",
    "Quispe",
    "Taylor",
    "Wright",
    "Moreau",
    "Zielinski",
]
REGIONS = {"New York": "US", "London": "EMEA", "Paris": "EMEA", "Warsaw": "EMEA", "Vancouver": "CA", "Lima": "LATAM"}
