"""Every table, imported in one place so the metadata is complete for Alembic and the tests."""

from services.search.models import ExpertDoc, ExpertTombstone
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
from .memberships.models import (
    ClaimCode,
    GroupMembership,
    MemberNoSequence,
    Membership,
    MembershipApplication,
    MembershipCertificate,
    MembershipType,
)
from .onboarding.models import ImportBatch
from .orgs.models import Organisation
from .people.models import Person, PersonDuplicate

__all__ = [
    "Account",
    "Assignment",
    "AuditEvent",
    "ChangeRecord",
    "Channel",
    "ClaimCode",
    "Cycle",
    "DeclaredConflict",
    "ExpertDoc",
    "ExpertTombstone",
    "GroupMembership",
    "ImportBatch",
    "LoginThrottle",
    "MemberNoSequence",
    "Membership",
    "MembershipApplication",
    "MembershipCertificate",
    "MembershipType",
    "Nomination",
    "Organisation",
    "Person",
    "PersonDuplicate",
    "Programme",
    "RefreshToken",
    "Review",
    "ReviewerEvent",
    "RoleGrant",
    "SearchOutbox",
    "metadata",
]
