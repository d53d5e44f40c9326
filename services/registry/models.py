"""Every table, imported in one place so the metadata is complete for Alembic and the tests."""

from services.search.models import ExpertDoc, ExpertTombstone
from services.search.outbox import SearchOutbox

from .audit.models import AuditEvent
from .auth.models import Account, LoginThrottle, RefreshToken, RoleGrant
from .core.db import metadata
from .core.models import ChangeRecord
from .memberships.models import Membership
from .orgs.models import Organisation
from .people.models import Person

__all__ = [
    "Account",
    "AuditEvent",
    "ChangeRecord",
    "ExpertDoc",
    "ExpertTombstone",
    "LoginThrottle",
    "Membership",
    "Organisation",
    "Person",
    "RefreshToken",
    "RoleGrant",
    "SearchOutbox",
    "metadata",
]
