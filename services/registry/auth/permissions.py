"""The one table of what each role may do."""

from __future__ import annotations

from enum import StrEnum

from .models import Role


class Permission(StrEnum):
    orgs_read = "orgs:read"
    orgs_write = "orgs:write"
    people_read = "people:read"
    people_write = "people:write"
    people_contact = "people:contact"  # phone and email unmasked
    people_identity = "people:identity"  # document number unmasked, audited
    memberships_read = "memberships:read"
    memberships_write = "memberships:write"
    memberships_configure = "memberships:configure"  # membership types, number formats
    accounts_link = "accounts:link"  # link member accounts to profiles, hand out claim codes
    statistics_read = "statistics:read"  # aggregate membership counts
    governance_read = "governance:read"  # councils, their seats and composition
    governance_write = "governance:write"
    experts_search = "search:experts"
    self_read = "self:read"
    self_write = "self:write"
    audit_read = "audit:read"
    awards_read = "awards:read"  # programmes and cycles
    awards_manage = "awards:manage"  # programmes and cycles of the owner organisation
    awards_nominate = "awards:nominate"  # nominations through a channel organisation
    awards_committee = "awards:committee"  # checks, panels, assignment, results, records
    awards_review = "awards:review"  # own assignments, conflicts and scores


_STAFF = {
    Permission.orgs_read,
    Permission.people_read,
    Permission.people_write,
    Permission.memberships_read,
    Permission.memberships_write,
    Permission.statistics_read,
    Permission.governance_read,
    Permission.governance_write,
    Permission.experts_search,
    Permission.self_read,
    Permission.self_write,
    Permission.awards_read,
    Permission.awards_nominate,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.platform_admin: frozenset(Permission),
    Role.org_admin: frozenset(
        _STAFF
        | {
            Permission.people_contact,
            Permission.people_identity,
            Permission.awards_manage,
            Permission.memberships_configure,
            Permission.accounts_link,
        }
    ),
    Role.org_staff: frozenset(_STAFF | {Permission.people_contact}),
    # Award committees judge nominees and experts from their profiles, contact data masked.
    Role.committee: frozenset(
        {
            Permission.orgs_read,
            Permission.people_read,
            Permission.experts_search,
            Permission.self_read,
            Permission.awards_read,
            Permission.awards_committee,
            Permission.governance_read,
            Permission.statistics_read,
        }
    ),
    Role.reviewer: frozenset(
        {
            Permission.self_read,
            Permission.self_write,
            Permission.awards_read,
            Permission.awards_review,
        }
    ),
    Role.member: frozenset({Permission.self_read, Permission.self_write}),
}

# Roles that must name the organisation they act for; the platform administrator must not.
ORG_ROLES = frozenset({Role.org_admin, Role.org_staff, Role.committee})
