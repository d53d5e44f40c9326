"""Organisation rules: the tree, scoped reads, and status changes with their reasons."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.orm import Session, aliased

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core import history, normalize
from ..core.errors import Conflict, InvalidField, NotFound, ProblemError, register_unique
from ..core.ids import uuid7
from ..core.pagination import like_escape
from .models import Organisation, OrgKind, OrgStatus
from .schemas import OrgCreate, OrgRead, OrgUpdate

CLOSED = frozenset({OrgStatus.suspended, OrgStatus.exited})
"""A society in these admits, renews, reinstates and nominates no one."""
EXITED = frozenset({OrgStatus.exited})
"""A society that has left the federation also certifies and elects no one."""


def refuse_closed(org: Organisation, detail: str, closed: frozenset[OrgStatus] = CLOSED) -> None:
    """A 409 `society-closed` when the society's status is one of `closed`."""
    if org.status in closed:
        raise ProblemError(detail, 409, "society-closed")


register_unique("uq_organisation_code", "code", "an organisation with this code exists")
register_unique("uq_organisation_uscc", "uscc", "an organisation with this USCC exists")

Parent = aliased(Organisation)


def _with_parent_code() -> Select[tuple[Organisation, str | None]]:
    return select(Organisation, Parent.code).outerjoin(Parent, Parent.id == Organisation.parent_id)


def to_read(org: Organisation, parent_code: str | None) -> OrgRead:
    return OrgRead(
        code=org.code,
        name=org.name,
        name_en=org.name_en,
        kind=org.kind,
        parent_code=parent_code,
        uscc=org.uscc,
        region_code=org.region_code,
        status=org.status,
        created_at=org.created_at,
        updated_at=org.updated_at,
    )


def canonical_code(code: str) -> str:
    """A code as typed (full-width, lower case) as it is stored: folded as on registration."""
    return normalize.fold(code).upper()


def by_code(session: Session, code: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.code == canonical_code(code)))


def get_scoped(
    session: Session, *, principal: Principal, code: str, permission: Permission
) -> Organisation:
    """The organisation if it lies in the caller's scope for `permission`; otherwise NotFound."""
    org = by_code(session, code)
    if org is None or not principal.covers_path(permission, org.path):
        raise NotFound("organisation")
    return org


def read(session: Session, *, principal: Principal, code: str) -> OrgRead:
    org = get_scoped(session, principal=principal, code=code, permission=Permission.orgs_read)
    parent_code = session.scalar(select(Organisation.code).where(Organisation.id == org.parent_id))
    return to_read(org, parent_code)


def create(session: Session, *, principal: Principal, data: OrgCreate) -> OrgRead:
    if by_code(session, data.code):
        raise Conflict("an organisation with this code exists", "code")
    org = add(session, data, actor=history.actor_of(principal), source="api")
    return to_read(org, data.parent_code)


# Where each kind sits in the federation's tree (DOMAIN.md): provincial associations below
# the federation, city and county associations below their province's (or a city's);
# societies (national, or provincial and local ones registered with an association),
# university, enterprise and park associations below the federation or an association; nothing
# below a society or those three. Any kind but the federation's may stand at the top of a
# partial tree, and the federation has no parent.
_ASSOCIATIONS = frozenset(
    {OrgKind.federation, OrgKind.provincial_association, OrgKind.local_association}
)
ALLOWED_PARENTS: dict[str, frozenset[str]] = {
    OrgKind.federation: frozenset(),
    OrgKind.provincial_association: frozenset({OrgKind.federation}),
    OrgKind.local_association: frozenset(
        {OrgKind.provincial_association, OrgKind.local_association}
    ),
    **dict.fromkeys(
        (
            OrgKind.national_society,
            OrgKind.university_association,
            OrgKind.enterprise_association,
            OrgKind.park_association,
        ),
        _ASSOCIATIONS,
    ),
}


def check_open_parent(parent: Organisation, field: str = "parent_code") -> None:
    """Nothing new goes below an organisation that has left the federation."""
    if parent.status == OrgStatus.exited:
        raise InvalidField(field, f"{parent.code} has exited; nothing can be placed below it")


def check_place(kind: str, parent_kind: str | None, field: str = "parent_code") -> None:
    """Refuse an organisation of `kind` below a parent of `parent_kind` where the tree has no
    such place (a national society below a county association would give the county's
    administrators the society's scope)."""
    if parent_kind is not None and parent_kind not in ALLOWED_PARENTS.get(kind, frozenset()):
        raise InvalidField(field, f"a {kind} cannot sit below a {parent_kind}")


# Paths are copied down the tree: a move rewrites its subtree's paths in one statement, and
# a new organisation copies its parent's. Moves take this transaction-level lock exclusively
# and additions share it, so that a move neither runs beside another one (each checks for a
# loop against paths the other is rewriting: two moves at once could close one) nor misses a
# child added below its subtree while it runs (the child would keep the old path).
_TREE_LOCK = "organisation-tree"


def lock_tree(session: Session, *, exclusive: bool) -> None:
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    session.execute(text(f"SELECT {function}(hashtext(:key))"), {"key": _TREE_LOCK})


def add(session: Session, data: OrgCreate, *, actor: str, source: str) -> Organisation:
    """A new organisation below its parent, with its `created` history entry (the API and the
    import both add organisations this way)."""
    org_id = uuid7()
    path = org_id.hex + "/"
    parent_id = None
    if data.parent_code:
        lock_tree(session, exclusive=False)
        parent = by_code(session, data.parent_code)
        if parent is None:
            raise InvalidField("parent_code", "no organisation has this code")
        check_place(data.kind, parent.kind)
        check_open_parent(parent)
        parent_id, path = parent.id, parent.path + path
    org = Organisation(
        id=org_id,
        code=data.code,
        name=data.name,
        name_en=data.name_en,
        kind=data.kind,
        parent_id=parent_id,
        path=path,
        uscc=data.uscc,
        region_code=data.region_code,
    )
    session.add(org)
    session.flush()
    history.record(
        session,
        entity="organisation",
        entity_id=org.id,
        changes=[("created", None, org.code)],
        actor=actor,
        source=source,
    )
    return org


def list_orgs(
    session: Session,
    *,
    principal: Principal,
    after: uuid.UUID | None,
    limit: int,
    kind: str | None = None,
    status: str | None = None,
    parent_code: str | None = None,
    q: str | None = None,
) -> list[tuple[Organisation, str | None]]:
    query = (
        _with_parent_code()
        .where(principal.path_filter(Permission.orgs_read, Organisation.path))
        .order_by(Organisation.id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(Organisation.id > after)
    if kind:
        query = query.where(Organisation.kind == kind)
    if status:
        query = query.where(Organisation.status == status)
    if parent_code:
        query = query.where(Parent.code == canonical_code(parent_code))
    if q:
        pattern = f"%{like_escape(q)}%"
        query = query.where(
            Organisation.name.ilike(pattern, escape="\\")
            | Organisation.code.ilike(pattern, escape="\\")
            | Organisation.name_en.ilike(pattern, escape="\\")
        )
    return [(row[0], row[1]) for row in session.execute(query).all()]


def update_org(session: Session, *, principal: Principal, code: str, data: OrgUpdate) -> OrgRead:
    org = get_scoped(session, principal=principal, code=code, permission=Permission.orgs_write)
    if "parent_code" in data.model_fields_set:
        lock_tree(session, exclusive=True)  # before the row: a move locks rows of its subtree
    session.refresh(org, with_for_update=True)
    fields = data.model_dump(exclude_unset=True, exclude={"reason", "parent_code"})
    for name in ("status", "name"):
        if name in fields and fields[name] is None:
            raise InvalidField(name, "cannot be cleared")
    if "kind" in fields and fields["kind"] != org.kind:
        _check_new_kind(session, org, fields["kind"])
    changes = history.assign(org, fields)
    if "parent_code" in data.model_fields_set:
        changes.extend(_move(session, org, data.parent_code))
    history.save_changes(
        session,
        org,
        entity="organisation",
        changes=changes,
        actor=history.actor_of(principal),
        source="api",
        reason=data.reason,
    )
    parent_code = session.scalar(select(Organisation.code).where(Organisation.id == org.parent_id))
    return to_read(org, parent_code)


def _check_new_kind(session: Session, org: Organisation, kind: str) -> None:
    """A changed kind must fit the organisation's parent, and its children must fit it."""
    parent_kind = session.scalar(select(Organisation.kind).where(Organisation.id == org.parent_id))
    check_place(kind, parent_kind, "kind")
    for child_kind in set(
        session.scalars(select(Organisation.kind).where(Organisation.parent_id == org.id))
    ):
        if kind not in ALLOWED_PARENTS.get(child_kind, frozenset()):
            raise InvalidField("kind", f"a {child_kind} below it cannot sit below a {kind}")


def _move(
    session: Session, org: Organisation, parent_code: str | None
) -> list[tuple[str, object, object]]:
    """Re-parent an organisation and rewrite the paths of its whole subtree."""
    lock_tree(session, exclusive=True)
    session.refresh(org, ["path", "parent_id"])  # as they are now another move has finished
    old_parent = session.scalar(select(Organisation.code).where(Organisation.id == org.parent_id))
    if old_parent == parent_code:
        return []
    new_prefix = ""
    new_parent_id = None
    if parent_code:
        parent = by_code(session, parent_code)
        if parent is None:
            raise InvalidField("parent_code", "no organisation has this code")
        if parent.path.startswith(org.path):
            raise InvalidField("parent_code", "an organisation cannot sit below itself")
        check_place(org.kind, parent.kind)
        check_open_parent(parent)
        new_prefix, new_parent_id = parent.path, parent.id
    old_path = org.path
    new_path = new_prefix + org.id.hex + "/"
    session.execute(
        update(Organisation)
        .where(Organisation.path.startswith(old_path, autoescape=True))
        .values(path=func.concat(new_path, func.substr(Organisation.path, len(old_path) + 1)))
        .execution_options(synchronize_session=False)
    )
    org.parent_id = new_parent_id
    session.expire(org, ["path"])
    return [("parent_code", old_parent, parent_code)]
