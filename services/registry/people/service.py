"""People rules: identity documents, scoped visibility, change history and the search outbox."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Dialect,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from services.search.outbox import enqueue_people

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core import history, ids, normalize
from ..core.db import ReadPool
from ..core.errors import Conflict, InvalidField, NotFound, register_unique
from ..core.ids import uuid7
from ..core.pagination import like_escape
from ..core.security import PiiCipher, mask_document, mask_email, mask_phone
from ..memberships.models import Membership
from ..orgs import service as org_service
from ..orgs.models import Organisation
from .models import IdType, Person, PersonAlias, RegionOfOrigin
from .schemas import PersonCreate, PersonFields, PersonIdentity, PersonRead, PersonUpdate

# The unique index on document numbers (their blind index); a unique Index() takes the
# convention's ix_ prefix.
DOCUMENT_INDEX = "ix_person_id_number_bidx"
register_unique(DOCUMENT_INDEX, "id_number", "a person with this document number is registered")

SENSITIVE = {"id_number": mask_document, "phone": mask_phone, "email": mask_email}


@dataclass(frozen=True)
class Identity:
    """A validated document and what it implies about the person."""

    id_type: str
    number: str
    birth_date: date | None
    gender: str | None
    region_of_origin: str | None


def resolve_identity(
    id_type: str | None, number: str, *, birth_date: date | None, gender: str | None
) -> Identity:
    """Validate a document number; a resident ID must agree with the given birth date and gender."""
    kind = id_type or IdType.resident_id
    try:
        if kind == IdType.resident_id:
            parsed = ids.parse_resident_id(number)
            if birth_date and birth_date != parsed.birth_date:
                raise InvalidField("id_number", "birth date in the number differs from birth_date")
            if gender and gender != parsed.gender:
                raise InvalidField("id_number", "gender digit in the number differs from gender")
            origin = region_of_origin(kind, parsed.number)
            return Identity(kind, parsed.number, parsed.birth_date, parsed.gender, origin)
        normalised = ids.normalise_document(kind, number)
    except ValueError as exc:
        raise InvalidField("id_number", str(exc)) from None
    return Identity(kind, normalised, None, None, region_of_origin(kind, normalised))


def region_of_origin(id_type: str, number: str) -> str | None:
    """What a valid document says about where its holder comes from (its first two
    characters are enough, so bulk imports look this up once per prefix)."""
    if id_type == IdType.resident_id:
        # Residence permits for Hong Kong, Macao and Taiwan residents use 81/82/83 codes.
        return {"81": "hong_kong", "82": "macao", "83": "taiwan"}.get(number[:2], "mainland")
    return {
        IdType.hk_macao_permit: "macao" if number.startswith("M") else "hong_kong",
        IdType.taiwan_permit: RegionOfOrigin.taiwan,
        IdType.foreign_permanent_resident: RegionOfOrigin.foreign,
    }.get(IdType(id_type))


def seal_identity(person: Person, identity: Identity, pii: PiiCipher) -> None:
    """Store the document encrypted (bound to the row id), its blind index and masked form."""
    person.id_type = identity.id_type
    person.id_number_enc = pii.encrypt(identity.number, context=person.id.bytes)
    person.id_number_bidx = pii.blind_index(identity.id_type, identity.number)
    person.id_number_masked = mask_document(identity.number)


def find_by_document(session: Session, pii: PiiCipher, identity: Identity) -> Person | None:
    bidx = pii.blind_index(identity.id_type, identity.number)
    return session.scalar(select(Person).where(Person.id_number_bidx == bidx))


def find_by_contact(
    session: Session,
    *,
    name: str,
    birth_date: date | None,
    phone: str | None,
    email: str | None,
    documented: bool,
) -> Person | None:
    """The import's second identity rule (onboarding/members.py): the same name and birth
    date with the same phone or e-mail, a person's own or one they are also known by
    (`PersonAlias`), when at most one side has a document (`documented`: the one looking);
    the first by id when several agree."""
    if birth_date is None or (phone is None and email is None):
        return None

    def same(table: type[Person] | type[PersonAlias]) -> ColumnElement[bool]:
        contact = [table.phone == phone] if phone else []
        contact += [table.email == email] if email else []
        return and_(table.name == name, table.birth_date == birth_date, or_(*contact))

    known = (
        select(Person.id)
        .where(same(Person))
        .union_all(select(PersonAlias.person_id).where(same(PersonAlias)))
    )
    query = select(Person).where(Person.id.in_(known))
    if documented:
        query = query.where(Person.id_number_bidx.is_(None))
    return session.scalar(query.order_by(Person.id).limit(1))


def known_by(session: Session, person: Person, name: str) -> bool:
    """Whether the person goes by this name: their own (a Latin one in any letter case) or one
    of a profile merged into theirs (`PersonAlias`), compared in the database as imports
    compare names (its `lower()`)."""
    same = func.lower(literal(name))
    own = select(Person.id).where(Person.id == person.id, func.lower(Person.name) == same)
    alias = select(PersonAlias.id).where(
        PersonAlias.person_id == person.id, func.lower(PersonAlias.name) == same
    )
    return bool(session.scalar(select(exists(own) | exists(alias))))


def visible(principal: Principal, permission: Permission) -> ColumnElement[bool]:
    """People the caller may see: a membership in, or a profile recorded by, an org in scope."""
    if principal.is_global(permission):
        return true()
    in_scope = principal.path_filter(permission, Organisation.path)
    return or_(
        exists(
            select(1)
            .select_from(Membership)
            .join(Organisation, Organisation.id == Membership.org_id)
            .where(Membership.person_id == Person.id, in_scope)
        ),
        exists(select(1).where(Organisation.id == Person.source_org_id, in_scope)),
    )


CONTACT_VISIBLE = "contact_visible"


def contact_rule(principal: Principal) -> bool | ColumnElement[bool]:
    """Whether the caller sees the phone and e-mail of the people they can read: the same
    answer for all of them when their contact scope covers their read scope (or they have
    none), otherwise the condition per person (a committee member of one organisation who is
    staff of another sees contact data only of the other's people)."""
    if not principal.can(Permission.people_contact):
        return False
    if principal.is_global(Permission.people_contact):
        return True
    if not principal.is_global(Permission.people_read):
        contact = principal.scope_paths(Permission.people_contact)
        read = principal.scope_paths(Permission.people_read)
        if all(any(path.startswith(prefix) for prefix in contact) for path in read):
            return True
    return visible(principal, Permission.people_contact)


def contact_visible(session: Session, principal: Principal, person_id: uuid.UUID) -> bool:
    """`contact_rule` for one person."""
    rule = contact_rule(principal)
    if isinstance(rule, bool):
        return rule
    return bool(session.scalar(select(rule).where(Person.id == person_id)))


def get_visible(
    session: Session, *, principal: Principal, person_id: uuid.UUID, permission: Permission
) -> Person:
    person = session.scalar(
        select(Person).where(Person.id == person_id, visible(principal, permission))
    )
    if person is None:
        raise NotFound("person")
    return person


def to_read(person: Person, *, contact_visible: bool) -> PersonRead:
    data = {name: getattr(person, name) for name in PersonRead.model_fields}
    return render(data, contact_visible=contact_visible)


# What reads fetch: the columns PersonRead shows (rows, not ORM objects, for the busy reads).
READ_COLUMNS = tuple(Person.__table__.c[name] for name in PersonRead.model_fields)

# Built once: coercing the columns again on every list request costs more than the query.
_LIST = select(*READ_COLUMNS)

# Statements of the one-profile read, compiled once per scope: (global, path prefixes, the
# contact rule: a bool or its path prefixes) -> (SQL, parameters). Scopes are few (one per
# combination of granted organisations).
_Scope = tuple[bool, tuple[str, ...], bool | tuple[str, ...]]
_READ_STATEMENTS: dict[_Scope, tuple[str, dict[str, Any]]] = {}
_READ_STATEMENTS_MAX = 1024


def _read_statement(
    dialect: Dialect, principal: Principal, rule: bool | ColumnElement[bool]
) -> tuple[str, dict[str, Any]]:
    """The columns PersonRead shows, of the person if visible(): the same rule as every read;
    and whether the caller sees their contact data, when that depends on the person (`rule`,
    the caller's `contact_rule`)."""
    permission = Permission.people_read
    scope: _Scope = (
        principal.is_global(permission),
        tuple(principal.scope_paths(permission)),
        rule if isinstance(rule, bool) else tuple(principal.scope_paths(Permission.people_contact)),
    )
    found = _READ_STATEMENTS.get(scope)
    if found is None:
        statement = select(*READ_COLUMNS).where(
            Person.__table__.c.id == bindparam("person_id"), visible(principal, permission)
        )
        if not isinstance(rule, bool):
            statement = statement.add_columns(rule.label(CONTACT_VISIBLE))
        compiled = statement.compile(dialect=dialect)
        found = (str(compiled), dict(compiled.params))
        if len(_READ_STATEMENTS) < _READ_STATEMENTS_MAX:
            _READ_STATEMENTS[scope] = found
    return found


async def read(reads: ReadPool, *, principal: Principal, person_id: uuid.UUID) -> PersonRead:
    """One profile in the caller's scope, contact data masked unless they may see it.

    The busiest request: one compiled statement on the event loop, no ORM objects (the ORM
    and the trip to a worker thread were most of the request's CPU time).
    """
    rule = contact_rule(principal)
    sql, params = _read_statement(reads.dialect, principal, rule)
    row = await reads.fetch_one(sql, {**params, "person_id": person_id})
    if row is None:
        raise NotFound("person")
    shown = row.pop(CONTACT_VISIBLE) if not isinstance(rule, bool) else rule
    return render(row, contact_visible=bool(shown))


def render(row: dict[str, Any], *, contact_visible: bool) -> PersonRead:
    """PersonRead from a row of READ_COLUMNS (changed in place), contact data masked unless
    the caller may see it."""
    if not contact_visible:
        row["phone"] = mask_phone(row["phone"])
        row["email"] = mask_email(row["email"])
    return PersonRead.model_validate(row)


def _source_org(session: Session, principal: Principal, org_code: str | None) -> uuid.UUID | None:
    """The organisation recording a new profile: the one named, or the caller's only one."""
    if org_code:
        org = session.scalar(select(Organisation).where(Organisation.code == org_code))
        if org is None or not principal.covers_path(Permission.people_write, org.path):
            raise InvalidField("org_code", "no organisation with this code in your scope")
        return org.id
    if principal.is_global(Permission.people_write):
        return None
    own = principal.org_ids(Permission.people_write)
    if len(own) != 1:
        raise InvalidField("org_code", "name the organisation recording this profile")
    return own[0]


_PLAIN_FIELDS = [
    name
    for name in PersonFields.model_fields
    if name not in {"id_type", "id_number", "gender", "birth_date", "region_of_origin"}
]


def create(
    session: Session,
    *,
    principal: Principal | None,
    pii: PiiCipher,
    data: PersonCreate,
    source: str = "api",
    source_org_id: uuid.UUID | None = None,
) -> Person:
    """A new profile; a document number already registered is a conflict."""
    person = Person(id=uuid7(), name=data.name)
    if principal is not None and source_org_id is None:
        source_org_id = _source_org(session, principal, data.org_code)
    person.source_org_id = source_org_id
    for name in _PLAIN_FIELDS:
        value = getattr(data, name)
        if value is not None:
            setattr(person, name, value)
    person.gender, person.birth_date = data.gender, data.birth_date
    person.region_of_origin = data.region_of_origin
    if data.id_number is not None:
        identity = resolve_identity(
            data.id_type,
            data.id_number.get_secret_value(),
            birth_date=data.birth_date,
            gender=data.gender,
        )
        if find_by_document(session, pii, identity):
            raise Conflict("a person with this document number is registered", "id_number")
        seal_identity(person, identity, pii)
        person.birth_date = person.birth_date or identity.birth_date
        person.gender = person.gender or identity.gender
        person.region_of_origin = person.region_of_origin or identity.region_of_origin
    elif data.id_type is not None:
        raise InvalidField("id_number", "required when id_type is given")
    session.add(person)
    session.flush()
    history.record(
        session,
        entity="person",
        entity_id=person.id,
        changes=[("created", None, person.name)],
        actor=history.actor_of(principal),
        source=source,
    )
    if person.expert_opt_in and person.status == "active":  # else no document can exist yet
        enqueue_people(session, [person.id])
    return person


def update(
    session: Session,
    *,
    principal: Principal,
    pii: PiiCipher,
    person_id: uuid.UUID,
    data: PersonUpdate,
    source: str = "api",
) -> Person:
    person = get_visible(
        session, principal=principal, person_id=person_id, permission=Permission.people_write
    )
    session.refresh(person, with_for_update=True)
    return apply_changes(
        session,
        person=person,
        pii=pii,
        values=data.model_dump(exclude_unset=True, exclude={"reason", "org_code"}),
        actor=history.actor_of(principal),
        source=source,
        reason=data.reason,
    )


def apply_changes(
    session: Session,
    *,
    person: Person,
    pii: PiiCipher,
    values: dict[str, Any],
    actor: str,
    source: str,
    reason: str | None = None,
) -> Person:
    """Set changed fields only, check the document against the result, record the history."""
    if "name" in values and values["name"] is None:
        raise InvalidField("name", "cannot be cleared")
    if "status" in values and values["status"] is None:
        raise InvalidField("status", "cannot be cleared")
    if "expert_opt_in" in values and values["expert_opt_in"] is None:
        raise InvalidField("expert_opt_in", "cannot be cleared")
    for name in ("discipline_codes", "research_fields", "talent_tags"):
        if name in values and values[name] is None:
            values[name] = []
    if "id_number" in values and values["id_number"] is None:
        raise InvalidField("id_number", "cannot be cleared; give the correct number instead")
    if "id_type" in values and values["id_type"] is None and person.id_number_enc is not None:
        raise InvalidField("id_type", "cannot be cleared while a document number is held")
    secret = values.pop("id_number", None)
    new_type = values.pop("id_type", None) if "id_type" in values else None
    changes = history.assign(person, values)
    if secret is not None:
        identity = resolve_identity(
            new_type or person.id_type,
            secret.get_secret_value(),
            birth_date=person.birth_date,
            gender=person.gender,
        )
        old_masked, old_type = person.id_number_masked, person.id_type
        if pii.blind_index(identity.id_type, identity.number) != person.id_number_bidx:
            other = find_by_document(session, pii, identity)
            if other is not None and other.id != person.id:
                raise Conflict("a person with this document number is registered", "id_number")
            seal_identity(person, identity, pii)
            if old_type != person.id_type:
                changes.append(("id_type", old_type, person.id_type))
            changes.append(("id_number", old_masked, person.id_number_masked))
            # What the number encodes fills gaps, as on create (it already agrees otherwise).
            for name in ("birth_date", "gender", "region_of_origin"):
                implied = getattr(identity, name)
                if implied is not None and getattr(person, name) is None:
                    changes.append((name, None, implied))
                    setattr(person, name, implied)
    elif new_type is not None and new_type != person.id_type:
        if person.id_number_enc is not None:
            raise InvalidField("id_number", "give the number again when changing id_type")
        raise InvalidField("id_number", "required when id_type is given")
    elif person.id_type == IdType.resident_id and person.id_number_enc is not None:
        _check_resident_agrees(person, pii, changes)
    if history.save_changes(
        session,
        person,
        entity="person",
        changes=[(n, _masked(n, o), _masked(n, v)) for n, o, v in changes],
        actor=actor,
        source=source,
        reason=reason,
    ):
        enqueue_people(session, [person.id])
    return person


def _check_resident_agrees(
    person: Person, pii: PiiCipher, changes: list[tuple[str, Any, Any]]
) -> None:
    """A changed birth date or gender must still agree with the stored resident ID number."""
    if not any(name in {"birth_date", "gender"} for name, _, _ in changes):
        return
    number = pii.decrypt(person.id_number_enc or b"", context=person.id.bytes)
    for name in ("birth_date", "gender"):
        if getattr(person, name) is None:
            raise InvalidField(name, "cannot be cleared: the resident ID number gives it")
    differing = resident_disagreement(person, number)
    if differing == "birth_date":
        raise InvalidField("birth_date", "differs from the birth date in the resident ID number")
    if differing == "gender":
        raise InvalidField("gender", "differs from the gender digit in the resident ID number")


def resident_disagreement(person: Person, number: str) -> str | None:
    """The field (`birth_date`, `gender`) the person holds otherwise than the resident ID
    number states, if any; an empty one agrees."""
    stated = ids.parse_resident_id(number)
    for name in ("birth_date", "gender"):
        value = getattr(person, name)
        if value is not None and value != getattr(stated, name):
            return name
    return None


def _masked(name: str, value: Any) -> Any:
    mask = SENSITIVE.get(name)
    if mask is None or value is None or name == "id_number":  # id_number arrives masked
        return value
    return mask(value)


def identity(
    session: Session, *, principal: Principal, pii: PiiCipher, person_id: uuid.UUID
) -> PersonIdentity:
    """The unmasked document number and contact data, recorded in the audit log."""
    from ..audit import service as audit

    person = get_visible(
        session, principal=principal, person_id=person_id, permission=Permission.people_identity
    )
    number = (
        pii.decrypt(person.id_number_enc, context=person.id.bytes) if person.id_number_enc else None
    )
    audit.record(
        session,
        principal=principal,
        action="person.identity.read",
        object_type="person",
        object_id=person.id,
    )
    return PersonIdentity(
        id=person.id,
        id_type=person.id_type,
        id_number=number,
        phone=person.phone,
        email=person.email,
    )


# Up to this many people in scope, a list reads the scope's people in id order and each profile
# by key (a cost of the scope's size, each page); beyond, it walks the profiles in id order
# and keeps those in scope, as a large society's fill a page within a few thousand profiles.
SCOPE_SORTED_MAX = 20_000


def _scope_parts(principal: Principal, org_id: uuid.UUID | None) -> list[Any] | None:
    """Selects of one column, the ids of the people in the caller's scope: the members of its
    organisations (or of `org_id` alone) and the profiles they recorded; None when everyone is
    (a platform-wide caller naming no organisation)."""
    if org_id is not None:
        return [select(Membership.person_id).where(Membership.org_id == org_id)]
    if principal.is_global(Permission.people_read):
        return None
    orgs = select(Organisation.id).where(
        principal.path_filter(Permission.people_read, Organisation.path)
    )
    recorded = aliased(Person)
    return [
        select(Membership.person_id).where(Membership.org_id.in_(orgs)),
        select(recorded.id).where(recorded.source_org_id.in_(orgs)),
    ]


# Scopes found at SCOPE_SORTED_MAX or beyond, by scope, for a minute: counting up to the bound
# costs a large society 5-7 ms, more than its page. Only that answer is remembered: a scope
# remembered as small that grew past the bound meanwhile (an import) would be cut at the bound
# by the sorted plan, arbitrary people missing from its pages; a small scope's count stops at
# its size, and a scope remembered as large is only walked, which is right at any size.
_SCOPE_LARGE: dict[tuple[Any, ...], float] = {}
_SCOPE_LARGE_SECONDS, _SCOPE_LARGE_MAX = 60.0, 4096


def _small_scope(
    session: Session, principal: Principal, org_id: uuid.UUID | None, parts: list[Any]
) -> bool:
    """Whether the scope holds fewer than SCOPE_SORTED_MAX people (counting stops there)."""
    key = (org_id,) if org_id is not None else tuple(principal.scope_paths(Permission.people_read))
    now = time.monotonic()
    if _SCOPE_LARGE.get(key, now) > now:
        return False
    counted = union_all(*parts).limit(SCOPE_SORTED_MAX).subquery()
    small = (session.scalar(select(func.count()).select_from(counted)) or 0) < SCOPE_SORTED_MAX
    if not small:
        if len(_SCOPE_LARGE) >= _SCOPE_LARGE_MAX:
            _SCOPE_LARGE.clear()
        _SCOPE_LARGE[key] = now + _SCOPE_LARGE_SECONDS
    return small


def _in_sorted_scope(query: Any, parts: list[Any], after: uuid.UUID | None) -> Any:
    """The list query driven by the scope's people, sorted, each profile read by its key.

    A small society's members, imported at once, have neighbouring ids: walking every profile
    in id order to find them read the whole table for a page (a second at two million
    profiles); this costs the scope's size instead.
    """
    if after is not None:
        parts = [part.where(part.selected_columns[0] > after) for part in parts]
    # OFFSET 0 keeps the union a subquery of its own, read by the organisations' indexes: pulled
    # up, it was read in person order from the (person_id, org_id) index, a walk of every
    # membership until the page was full, as slow as the walk of the profiles this replaces.
    found = union_all(*parts).offset(0).subquery()
    person_id = found.c[0].label("person_id")
    scope = select(person_id).distinct().order_by(person_id).subquery("scope")
    profile = query.where(Person.id == scope.c.person_id).lateral("profile")
    return select(profile).select_from(scope).join(profile, true()).order_by(scope.c.person_id)


def list_people(
    session: Session,
    *,
    principal: Principal,
    after: uuid.UUID | None,
    limit: int,
    q: str | None = None,
    org_code: str | None = None,
    gender: str | None = None,
    title_level: str | None = None,
    discipline_code: str | None = None,
    region_code: str | None = None,
    institution: str | None = None,
    expert_opt_in: bool | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Profiles in the caller's scope as rows of READ_COLUMNS and `CONTACT_VISIBLE`, oldest
    first."""
    # Compared as names and institutions are stored (full-width forms, spaces).
    q = normalize.person_name(q) if q else None
    institution = normalize.fold_text(institution) if institution else None
    rule = contact_rule(principal)
    org_id = None
    if org_code:
        org = org_service.by_code(session, org_code)
        # Memberships outside the caller's scope are not theirs to filter on.
        if org is None or not principal.covers_path(Permission.people_read, org.path):
            return []
        org_id = org.id
    conditions: list[ColumnElement[bool]] = [
        column == value
        for column, value in (
            (Person.gender, gender),
            (Person.title_level, title_level),
            (Person.status, status),
            (Person.expert_opt_in, expert_opt_in),
        )
        if value is not None
    ]
    if discipline_code:
        code = func.unnest(Person.discipline_codes).table_valued("code").render_derived()
        conditions.append(
            exists(select(1).select_from(code).where(code.c.code.startswith(discipline_code)))
        )
    if region_code:
        prefix = ids.region_prefix(normalize.fold(region_code))
        conditions.append(Person.region_code.startswith(prefix, autoescape=True))
    if institution:
        conditions.append(Person.institution.ilike(f"%{like_escape(institution)}%", escape="\\"))
    query = _LIST.where(*conditions)
    if not isinstance(rule, bool):
        query = query.add_columns(rule.label(CONTACT_VISIBLE))
    parts = None if q else _scope_parts(principal, org_id)
    if parts is not None and _small_scope(session, principal, org_id, parts):
        query = _in_sorted_scope(query, parts, after)
    else:
        # The profiles in id order, each checked against the scope: a large scope fills a page
        # within a few thousand, and the start of a name (the most selective filter) is found
        # through the indexes of names.
        if org_id is None:
            query = query.where(visible(principal, Permission.people_read))
        if q:
            query = query.where(
                or_(
                    Person.name.startswith(q, autoescape=True),
                    # lower() LIKE rather than ILIKE: the index of Latin names serves it.
                    func.lower(Person.name_en).startswith(q.lower(), autoescape=True),
                )
            )
        if org_id is not None:
            # A member of an organisation in scope is in scope, as for the sorted scope.
            query = query.where(
                exists().where(Membership.person_id == Person.id, Membership.org_id == org_id)
            )
        if after is not None:
            query = query.where(Person.id > after)
        query = query.order_by(Person.id)
    query = query.limit(limit + 1)
    rows = [dict(row) for row in session.execute(query).mappings()]
    if isinstance(rule, bool):
        for row in rows:
            row[CONTACT_VISIBLE] = rule
    return rows
