"""Static tables, the item catalogue and the user population of the traffic simulator.

Package-private helper of :mod:`streams.simulation`: everything here is built once from the
simulator's own :class:`random.Random`, so it is as deterministic as the event stream.

Calibration notes (the numbers are deliberately round, they are a plausible shop rather than
a fit to one):

- Category medians are typical Western marketplace prices in USD; prices are log-normal
  around them and end in ``.99``. Gift cards come in fixed denominations.
- Item popularity is Zipf (rank ``r`` weighs ``1 / r**s``) over a random permutation of the
  ids, so the id says nothing about popularity.
- Archetype funnel rates are tuned so that, pooled over the population, carts per item view
  come out near the 6 % and wishlists near the 3 % seen in the Taobao UserBehavior sample.
"""

from __future__ import annotations

import math
from bisect import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
from random import Random
from typing import Generic, TypeVar

T = TypeVar("T")

CURRENCY = "USD"

# name, median price (USD), log-sigma of price, share of catalogue and traffic, search terms
CATEGORIES: tuple[tuple[str, float, float, float, tuple[str, ...]], ...] = (
    ("electronics", 120.0, 0.9, 9.0, ("headphones", "bluetooth speaker", "smart watch")),
    ("computers", 650.0, 0.6, 4.0, ("laptop", "monitor", "mechanical keyboard")),
    ("phones", 420.0, 0.7, 5.0, ("smartphone", "phone case", "usb c charger")),
    ("home_appliances", 180.0, 0.8, 4.0, ("robot vacuum", "air fryer", "coffee machine")),
    ("furniture", 240.0, 0.8, 3.0, ("sofa", "standing desk", "office chair")),
    ("home_decor", 35.0, 0.8, 5.0, ("floor lamp", "rug", "curtains")),
    ("kitchen", 30.0, 0.8, 5.0, ("knife set", "frying pan", "storage jars")),
    ("fashion_women", 45.0, 0.6, 10.0, ("summer dress", "jeans", "handbag")),
    ("fashion_men", 45.0, 0.6, 7.0, ("shirt", "winter jacket", "hoodie")),
    ("shoes", 75.0, 0.5, 6.0, ("sneakers", "running shoes", "boots")),
    ("jewelry", 110.0, 1.0, 2.0, ("necklace", "silver ring", "earrings")),
    ("beauty", 22.0, 0.6, 6.0, ("lipstick", "moisturizer", "perfume")),
    ("health", 18.0, 0.6, 3.0, ("vitamins", "protein powder", "thermometer")),
    ("grocery", 8.0, 0.6, 4.0, ("coffee beans", "snacks", "olive oil")),
    ("toys", 25.0, 0.7, 4.0, ("lego", "board game", "puzzle")),
    ("books", 15.0, 0.5, 4.0, ("novel", "cookbook", "kids book")),
    ("sports", 45.0, 0.8, 4.0, ("yoga mat", "dumbbells", "bike helmet")),
    ("automotive", 40.0, 0.9, 2.0, ("car charger", "dash cam", "wiper blades")),
    ("pet_supplies", 20.0, 0.7, 3.0, ("dog food", "cat litter", "pet bed")),
    ("gift_cards", 50.0, 0.0, 1.5, ("gift card",)),
)
CATEGORY_INDEX = {c[0]: i for i, c in enumerate(CATEGORIES)}
GIFT_CARD_VALUES = (25.0, 50.0, 100.0, 200.0)
# What fraudsters buy: resellable, high value.
HIGH_VALUE_CATEGORIES = tuple(
    CATEGORY_INDEX[c] for c in ("electronics", "computers", "phones", "jewelry", "gift_cards")
)
# What card testers buy: cheap, digital or low-stakes.
CHEAP_CATEGORIES = tuple(CATEGORY_INDEX[c] for c in ("grocery", "books", "beauty", "health"))
# What refund abusers buy: things that are easy to claim "not as described" or "not received".
RETURNABLE_CATEGORIES = tuple(
    CATEGORY_INDEX[c] for c in ("fashion_women", "fashion_men", "shoes", "electronics")
)

# Home countries of customers (ISO 3166-1 alpha-2) with their weight.
COUNTRIES: tuple[tuple[str, float], ...] = (
    ("US", 34.0), ("GB", 10.0), ("DE", 9.0), ("FR", 7.0), ("CA", 6.0), ("ES", 5.0),
    ("IT", 5.0), ("NL", 4.0), ("AU", 4.0), ("BR", 4.0), ("IN", 4.0), ("JP", 3.0),
    ("MX", 3.0), ("PL", 2.0),
)  # fmt: skip
# Where account takeovers and stolen-card rings connect from (besides hosting proxies).
FRAUD_COUNTRIES = ("NG", "RU", "VN", "ID", "RO", "UA", "PH", "BD")
# Data-centre / proxy address space.
HOSTING_COUNTRIES = ("NL", "US", "DE", "SG")

PAYMENT_METHODS: tuple[tuple[str, float], ...] = (
    ("card", 0.62), ("wallet", 0.22), ("installment", 0.06),
    ("bank_transfer", 0.05), ("cash_on_delivery", 0.05),
)  # fmt: skip
CARD_METHODS = frozenset({"card", "installment"})
MAX_DEVICES = 4  # devices remembered per user

# kind, channel, user agent
DEVICE_KINDS: tuple[tuple[str, str, str], ...] = (
    ("desktop", "web", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36"),
    ("desktop", "web", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Safari/605.1.15"),
    ("mobile", "web", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Mobile/15E148"),
    ("mobile", "web", "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/131.0 Mobile"),
    ("mobile", "app", "ecomshop-ios/5.12.0 (iPhone15,2; iOS 18.1)"),
    ("mobile", "app", "ecomshop-android/5.12.0 (SM-S918B; Android 14)"),
)
FRAUD_USER_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/109.0 Safari/537.36",
)


@dataclass(frozen=True, slots=True)
class Archetype:
    """Behaviour of one kind of customer. Probabilities are per session unless noted."""

    name: str
    share: float  # share of registered users
    activity: float  # relative session frequency
    mean_actions: float  # mean browsing actions per session
    p_login: float  # explicit login at session start (otherwise a remembered session)
    p_search: float  # per action
    p_page: float  # per action: a category / deals page instead of an item
    p_pref: float  # per item pick: from a preferred category rather than the whole shop
    p_cart: float  # per item view
    p_wishlist: float  # per item view (when not carted)
    p_remove: float  # per action while the cart is not empty
    p_checkout: float  # given a non-empty cart at the end of the session
    p_purchase: float  # given a checkout
    p_coupon: float  # per purchase
    p_refund: float  # per delivered order
    price_sensitive: bool  # picks the cheaper of two candidate items


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype("browser", 0.40, 1.0, 8.0, 0.15, 0.18, 0.15, 0.40, 0.025, 0.030, 0.10,
              0.30, 0.45, 0.05, 0.04, False),
    Archetype("regular_buyer", 0.30, 1.2, 6.0, 0.25, 0.20, 0.10, 0.60, 0.080, 0.020, 0.08,
              0.55, 0.70, 0.08, 0.05, False),
    Archetype("bargain_hunter", 0.20, 1.5, 11.0, 0.25, 0.30, 0.15, 0.50, 0.060, 0.070, 0.25,
              0.40, 0.55, 0.45, 0.08, True),
    Archetype("loyal_customer", 0.10, 2.0, 5.0, 0.20, 0.12, 0.08, 0.80, 0.140, 0.030, 0.05,
              0.70, 0.85, 0.10, 0.03, False),
)  # fmt: skip
ANONYMOUS = Archetype("anonymous", 0.0, 1.0, 4.0, 0.0, 0.15, 0.25, 0.0, 0.020, 0.0, 0.10,
                      0.0, 0.0, 0.0, 0.0, False)  # fmt: skip


def _cumulative(weights: list[float] | tuple[float, ...]) -> tuple[list[float], float]:
    cum = list(accumulate(weights))
    return cum, cum[-1]


class WeightedChoice(Generic[T]):
    """Draws from a fixed weighted list with one uniform number and a binary search."""

    __slots__ = ("_cum", "_total", "values")

    def __init__(self, pairs: Iterable[tuple[T, float]]) -> None:
        pairs = list(pairs)
        self.values = [p[0] for p in pairs]
        self._cum, self._total = _cumulative([p[1] for p in pairs])

    def __call__(self, u: float) -> T:
        """Value for the uniform draw ``u`` in [0, 1)."""
        return self.values[bisect(self._cum, u * self._total)]


class Catalog:
    """Items ``i0 .. i{n-1}`` with category, price, seller and Zipf popularity."""

    __slots__ = ("_cat_cum", "_cat_items", "_cat_pick", "_cum", "_total", "category",
                 "category_index", "ids", "merchant", "price")  # fmt: skip

    def __init__(self, rng: Random, n_items: int, zipf_exponent: float, n_merchants: int) -> None:
        n_cat = len(CATEGORIES)
        cat_cum, cat_total = _cumulative([c[3] for c in CATEGORIES])
        self._cat_pick = (cat_cum, cat_total)
        ranks = list(range(n_items))
        rng.shuffle(ranks)
        self.ids: list[str] = [f"i{k}" for k in range(n_items)]
        self.category: list[str] = []
        self.category_index: list[int] = []
        self.price: list[float] = []
        self.merchant: list[str] = []
        self._cat_items: list[list[int]] = [[] for _ in range(n_cat)]
        cat_weights: list[list[float]] = [[] for _ in range(n_cat)]
        weights = [1.0 / (r + 1) ** zipf_exponent for r in ranks]
        for k in range(n_items):
            # The first n_cat items seed every category; the rest follow category weights.
            c = k if k < n_cat else bisect(cat_cum, rng.random() * cat_total)
            name, median, sigma, _, _ = CATEGORIES[c]
            if name == "gift_cards":
                price = GIFT_CARD_VALUES[rng.randrange(len(GIFT_CARD_VALUES))]
            else:
                raw = median * math.exp(rng.gauss(0.0, sigma))
                price = math.floor(raw) + 0.99 if raw >= 1.0 else 0.99
            self.category.append(name)
            self.category_index.append(c)
            self.price.append(price)
            self.merchant.append(f"m{rng.randrange(n_merchants):03d}")
            self._cat_items[c].append(k)
            cat_weights[c].append(weights[k])
        self._cum, self._total = _cumulative(weights)
        self._cat_cum = [_cumulative(w) for w in cat_weights]

    def __len__(self) -> int:
        return len(self.ids)

    def pick(self, u: float) -> int:
        """Index of a popularity-weighted item for the uniform draw ``u``."""
        return bisect(self._cum, u * self._total)

    def pick_category(self, u: float) -> int:
        """Index of a traffic-weighted category for the uniform draw ``u``."""
        cum, total = self._cat_pick
        return bisect(cum, u * total)

    def pick_in(self, category: int, u: float) -> int:
        """Index of a popularity-weighted item of ``category`` for the uniform draw ``u``."""
        cum, total = self._cat_cum[category]
        return self._cat_items[category][bisect(cum, u * total)]


class IpSpace:
    """Synthetic IPv4 space: a few /16 blocks per country, plus hosting (proxy) blocks."""

    __slots__ = ("_blocks", "_hosting")

    def __init__(self, rng: Random) -> None:
        countries = [c for c, _ in COUNTRIES] + list(FRAUD_COUNTRIES)
        pool = [(a, b) for a in range(11, 224) if a != 127 for b in (0, 64, 128, 192)]
        picked = rng.sample(pool, 4 * len(countries) + 4 * len(HOSTING_COUNTRIES))
        self._blocks = {c: picked[4 * i : 4 * i + 4] for i, c in enumerate(countries)}
        base = 4 * len(countries)
        self._hosting = [
            (c, picked[base + 4 * i : base + 4 * i + 4]) for i, c in enumerate(HOSTING_COUNTRIES)
        ]

    def ip(self, rng: Random, country: str) -> str:
        """A residential-looking address in ``country``."""
        a, b = self._blocks[country][rng.randrange(4)]
        return f"{a}.{b + rng.randrange(64)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"

    def hosting_ip(self, rng: Random) -> tuple[str, str]:
        """A data-centre / proxy address and its country."""
        country, blocks = self._hosting[rng.randrange(len(self._hosting))]
        a, b = blocks[rng.randrange(4)]
        return f"{a}.{b + rng.randrange(64)}.{rng.randrange(256)}.{rng.randrange(1, 255)}", country


@dataclass(slots=True)
class Device:
    device_id: str
    channel: str
    user_agent: str
    ip: str


@dataclass(slots=True)
class Card:
    fingerprint: str
    bin: str
    country: str


@dataclass(slots=True)
class User:
    user_id: str
    archetype: Archetype
    country: str
    devices: list[Device]
    card: Card
    method: str
    categories: tuple[int, ...]


def new_device(rng: Random, ip: str, user_agent: str | None = None) -> Device:
    """A fresh device with a random opaque id, on address ``ip``."""
    _, channel, ua = DEVICE_KINDS[rng.randrange(len(DEVICE_KINDS))]
    if user_agent is not None:
        channel, ua = "web", user_agent
    return Device(f"d{rng.getrandbits(48):012x}", channel, ua, ip)


def new_card(rng: Random, country: str, bin_: str | None = None) -> Card:
    """A card with an opaque fingerprint; ``bin_`` defaults to a random Visa/Mastercard BIN."""
    if bin_ is None:
        bin_ = f"{4 + rng.randrange(2)}{rng.randrange(100_000):05d}"
    return Card(f"cf_{rng.getrandbits(64):016x}", bin_, country)


class Population:
    """The registered users, with activity-weighted sampling."""

    __slots__ = ("_cum", "_total", "countries", "ips", "methods", "users")

    def __init__(self, rng: Random, n_users: int, catalog: Catalog, ips: IpSpace) -> None:
        self.ips = ips
        self.countries = WeightedChoice(COUNTRIES)
        self.methods = WeightedChoice(PAYMENT_METHODS)
        arch_pick = WeightedChoice((a, a.share) for a in ARCHETYPES)
        self.users: list[User] = []
        activity: list[float] = []
        for k in range(n_users):
            arch = arch_pick(rng.random())
            country = self.countries(rng.random())
            home_ip = ips.ip(rng, country)
            devices = [new_device(rng, home_ip)]
            if rng.random() < 0.45:  # a second device, often on a mobile network
                devices.append(
                    new_device(rng, home_ip if rng.random() < 0.5 else ips.ip(rng, country))
                )
            card_country = country if rng.random() < 0.96 else self.countries(rng.random())
            prefs = tuple(
                dict.fromkeys(catalog.pick_category(rng.random()) for _ in range(2 + (k % 2)))
            )
            self.users.append(
                User(
                    f"u{k}",
                    arch,
                    country,
                    devices,
                    new_card(rng, card_country),
                    self.methods(rng.random()),
                    prefs,
                )
            )
            activity.append(arch.activity * rng.lognormvariate(0.0, 0.6))
        self._cum, self._total = _cumulative(activity)

    def pick(self, u: float) -> User:
        """An activity-weighted user for the uniform draw ``u``."""
        return self.users[bisect(self._cum, u * self._total)]
