"""Online user profiles (issue 3): pure per-user state, per-partition stats, snapshots.

Public API; definitions of every field are in the concept modules and in
``docs/profile.md``.
"""

from streams.profile.cart import due_triggers, next_due_ms
from streams.profile.config import DEFAULT_CONFIG, FUNNEL_STAGES, ProfileConfig
from streams.profile.consent import personalization_allowed
from streams.profile.core import (
    PROFILE_VERSION,
    Profile,
    apply_event,
    forget,
    new_profile,
    snapshot,
)
from streams.profile.interests import price_percentile, price_tier, top_categories
from streams.profile.kpis import Kpis
from streams.profile.lifecycle import STAGES as LIFECYCLE_STAGES
from streams.profile.rfm import SEGMENTS
from streams.profile.stats import PartitionStats

__all__ = [
    "DEFAULT_CONFIG",
    "FUNNEL_STAGES",
    "LIFECYCLE_STAGES",
    "PROFILE_VERSION",
    "SEGMENTS",
    "Kpis",
    "PartitionStats",
    "Profile",
    "ProfileConfig",
    "apply_event",
    "due_triggers",
    "forget",
    "new_profile",
    "next_due_ms",
    "personalization_allowed",
    "price_percentile",
    "price_tier",
    "snapshot",
    "top_categories",
]
