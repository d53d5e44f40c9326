"""Every table, imported in one place so the metadata is complete for Alembic and the tests."""

from services.search.models import (
    ExpertBitmap,
    ExpertBitmapKey,
    ExpertDoc,
    ExpertDocBody,
    ExpertTombstone,
)
from services.search.outbox import SearchOutbox

from .audit.models import AuditEvent
from .auth.models import Account, LoginThrottle, RefreshToken, RoleGrant
from .awards.models import (
    Assignment,
    Channel,
    Cycle,
    DeclaredConflict,
    Nomination,
    Programme,
    Review,
    ReviewerEvent,
)
from .core.db import metadata
from .core.models import ChangeRecord
from .core.ratelimit import RateLimitCounter
from .governance.models import BodySeat, GovernanceBody
from .memberships.models import (
    ClaimCode,
    GroupActivity,
    GroupMembership,
    MemberNoSequence,
    Membership,
    MembershipApplication,
    MembershipCertificate,
    MembershipPolicy,
    MembershipType,
)
from .onboarding.models import ImportBatch
from .orgs.models import Organisation
from .people.models import Person, PersonAlias, PersonDuplicate

__all__ = [
    "Account",
    "Assignment",
    "AuditEvent",
    "BodySeat",
    "ChangeRecord",
    "Channel",
    "ClaimCode",
    "Cycle",
    "DeclaredConflict",
    "ExpertBitmap",
    "ExpertBitmapKey",
    "ExpertDoc",
    "ExpertDocBody",
    "ExpertTombstone",
    "GovernanceBody",
    "GroupActivity",
    "GroupMembership",
    "ImportBatch",
    "LoginThrottle",
    "MemberNoSequence",
    "Membership",
    "MembershipApplication",
    "MembershipCertificate",
    "MembershipPolicy",
    "MembershipType",
    "Nomination",
    "Organisation",
    "Person",
    "PersonAlias",
    "PersonDuplicate",
    "Programme",
    "RateLimitCounter",
    "RefreshToken",
    "Review",
    "ReviewerEvent",
    "RoleGrant",
    "SearchOutbox",
    "metadata",
]
