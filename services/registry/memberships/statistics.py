"""Membership statistics: counts by society, grade, status, gender, age band, region of origin
and province, and growth by year, in one pass over the memberships (GROUPING SETS)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import Date, case, cast, extract, func, literal, select, tuple_
from sqlalchemy.orm import Session

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core import ids, spreadsheet
from ..core.clock import ZONE
from ..core.models import ChangeRecord
from ..orgs import service as org_service
from ..orgs.models import Organisation
from ..people.models import Person
from . import lifecycle
from .lifecycle import add_months
from .models import Membership, MembershipStatus, MembershipType
from .schemas import CountRow, OrgCount, RegionCount, StatisticsRead, YearGrowth

UNKNOWN = "unknown"
# (label, the youngest age in the band); each band runs to the next one's youngest age.
AGE_BANDS: Sequence[tuple[str, int]] = (
    ("under_30", 0),
    ("30_39", 30),
    ("40_49", 40),
    ("50_59", 50),
    ("60_69", 60),
    ("70_plus", 70),
)
# Over a million memberships the plan's cost asks PostgreSQL to compile, inline and optimise
# the query's expressions: longer than evaluating them for a query that runs once. With the
# server's default work_mem (4 MB) the join and the grouping sets of a million rows spill to
# temporary files (the people hashed in 16 batches, the rows sorted by society: about 340 MB
# written and read back); with 64 MB every grouping set is hashed in memory.
SETTINGS = {"jit": "off", "work_mem": "64MB"}
DIMENSIONS = (
    "org_id",
    "grade",
    "status",
    "gender",
    "age_band",
    "region_of_origin",
    "province",
    "joined_year",
    "ended_year",
    "dated_ended_year",  # the end of a membership whose joining is dated
)


def _born_before(today: date, years: int) -> date:
    """Whoever was born on or before this day is at least `years` old `today`."""
    return add_months(today, -12 * years)


def compute(
    session: Session,
    *,
    principal: Principal,
    today: date,
    org_code: str | None = None,
    statuses: Sequence[str] = (),
    grades: Sequence[str] = (),
) -> StatisticsRead:
    """Memberships in the caller's scope (with `org_code`: that organisation and those below
    it), optionally only some statuses or grades."""
    scope = principal.path_filter(Permission.statistics_read, Organisation.path)
    conditions = [scope]
    counted: str | None = None  # the organisation's code as stored, not as typed
    if org_code:
        org = org_service.get_scoped(
            session, principal=principal, code=org_code, permission=Permission.statistics_read
        )
        conditions.append(Organisation.path.startswith(org.path, autoescape=True))
        counted = org.code
    if statuses:
        conditions.append(Membership.status.in_(list(statuses)))
    if grades:
        conditions.append(Membership.grade.in_(list(grades)))
    # Oldest band first: a birth date on or before the cut-off is at least that old.
    age_band = case(
        (Person.birth_date.is_(None), literal(UNKNOWN)),
        *(
            (Person.birth_date <= _born_before(today, youngest), literal(label))
            for label, youngest in reversed(AGE_BANDS[1:])
        ),
        else_=literal(AGE_BANDS[0][0]),
    )
    # A membership ends when it is terminated (`ended_on`) or, once it has lapsed, the day
    # after its grace ran out: until then its member counted as one. One lapsed by hand (a
    # life membership has no end date; another may be lapsed before its end) ended the day
    # it was, as a termination does: the day of its latest change to lapsed, or of its
    # creation when it was created lapsed.
    lapsed_by_hand = (
        select(func.max(ChangeRecord.changed_at))
        .where(
            ChangeRecord.entity_id == Membership.id,
            ChangeRecord.entity == "membership",
            ChangeRecord.field == "status_override",
            ChangeRecord.new_value == MembershipStatus.lapsed.value,
        )
        .scalar_subquery()
    )
    lapsed_on = case(
        (
            Membership.status_override == MembershipStatus.lapsed,
            cast(
                func.timezone(ZONE.key, func.coalesce(lapsed_by_hand, Membership.created_at)),
                Date,
            ),
        )
    )
    ended_on = func.coalesce(
        Membership.ended_on,
        case(
            (
                Membership.status == MembershipStatus.lapsed,
                # least() ignores a null: no end date, or not lapsed by hand
                func.least(
                    Membership.valid_until + func.coalesce(MembershipType.grace_days, 0) + 1,
                    lapsed_on,
                ),
            )
        ),
    )
    base = (
        select(
            Membership.org_id.label("org_id"),
            Membership.grade.label("grade"),
            Membership.status.label("status"),
            func.coalesce(Person.gender, UNKNOWN).label("gender"),
            age_band.label("age_band"),
            func.coalesce(Person.region_of_origin, UNKNOWN).label("region_of_origin"),
            func.coalesce(func.substr(Person.region_code, 1, 2), UNKNOWN).label("province"),
            extract("year", Membership.joined_on).label("joined_year"),
            extract("year", ended_on).label("ended_year"),
            case((Membership.joined_on.is_not(None), extract("year", ended_on))).label(
                "dated_ended_year"
            ),
        )
        .join(Person, Person.id == Membership.person_id)
        .outerjoin(MembershipType, MembershipType.id == Membership.type_id)
        .join(Organisation, Organisation.id == Membership.org_id)
        .where(*conditions)
        .subquery()
    )
    columns = [base.c[name] for name in DIMENSIONS]
    query = select(
        *(func.grouping(c) for c in columns), *columns, func.count().label("n")
    ).group_by(func.grouping_sets(*(tuple_(c) for c in columns)))
    counts: dict[str, dict[object, int]] = {name: {} for name in DIMENSIONS}
    width = len(DIMENSIONS)
    # Reads run on autocommit connections: the setting is the connection's until put back.
    with lifecycle.server_settings(session, SETTINGS, local=False):
        result = session.execute(query).all()
    for row in result:
        flags, values, n = row[:width], row[width : 2 * width], row[-1]
        name = DIMENSIONS[flags.index(0)]
        counts[name][values[flags.index(0)]] = n
    return _render(session, counts, today, counted)


def _render(
    session: Session, counts: dict[str, dict[object, int]], today: date, org_code: str | None
) -> StatisticsRead:
    orgs = {
        org.id: org
        for org in session.scalars(
            select(Organisation).where(Organisation.id.in_(list(counts["org_id"])))
        )
    }
    by_org = sorted(
        (
            OrgCount(org_code=orgs[oid].code, org_name=orgs[oid].name, count=n)
            for oid, n in counts["org_id"].items()
            if isinstance(oid, uuid.UUID)
        ),
        key=lambda o: (-o.count, o.org_code),
    )
    by_region = sorted(
        (
            RegionCount(
                region_code=None if p == UNKNOWN else f"{p}0000",
                region_name=None if p == UNKNOWN else ids.region_name(f"{p}0000"),
                count=n,
            )
            for p, n in counts["province"].items()
        ),
        key=lambda r: (-r.count, r.region_code or "~"),
    )
    joined = {int(y): n for y, n in counts["joined_year"].items() if y is not None}
    ended = {int(y): n for y, n in counts["ended_year"].items() if y is not None}
    # Members at a year's end are the dated ones: a membership without a joining date was
    # never added, so its end is not taken off.
    dated_ended = {int(y): n for y, n in counts["dated_ended_year"].items() if y is not None}
    growth, members = [], 0
    for year in range(min([*joined, *ended], default=today.year), today.year + 1):
        members += joined.get(year, 0) - dated_ended.get(year, 0)
        growth.append(
            YearGrowth(
                year=year,
                joined=joined.get(year, 0),
                ended=ended.get(year, 0),
                members_at_year_end=members,
            )
        )

    def tally(name: str, order: Sequence[str] = ()) -> list[CountRow]:
        rows = [CountRow(key=str(k), count=n) for k, n in counts[name].items()]
        rank = {key: i for i, key in enumerate(order)}
        return sorted(rows, key=lambda r: (rank.get(r.key, len(rank)), -r.count, r.key))

    return StatisticsRead(
        as_of=today,
        org_code=org_code,
        total=sum(counts["status"].values()),
        by_org=by_org,
        by_grade=tally("grade", ("student", "member", "senior", "fellow", "honorary")),
        by_status=tally(
            "status", ("pending", "active", "grace", "lapsed", "suspended", "terminated")
        ),
        by_gender=tally("gender", ("male", "female", UNKNOWN)),
        by_age_band=tally("age_band", [label for label, _ in AGE_BANDS] + [UNKNOWN]),
        by_region_of_origin=tally(
            "region_of_origin", ("mainland", "hong_kong", "macao", "taiwan", "foreign", UNKNOWN)
        ),
        by_region=by_region,
        joined_without_date=counts["joined_year"].get(None, 0),
        growth_by_year=growth,
    )


def csv_filename(stats: StatisticsRead) -> str:
    return f"membership-statistics-{stats.org_code or 'all'}-{stats.as_of.isoformat()}.csv"


def to_csv(stats: StatisticsRead) -> str:
    """One table, `dimension,key,label,count`, UTF-8 with a BOM so that Excel reads it."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(["dimension", "key", "label", "count"])
    writer.writerow(["total", "", "", stats.total])
    for org in stats.by_org:
        writer.writerow(spreadsheet.row(["org", org.org_code, org.org_name, org.count]))
    for name in ("grade", "status", "gender", "age_band", "region_of_origin"):
        for row in getattr(stats, f"by_{name}"):
            writer.writerow([name, row.key, "", row.count])
    for region in stats.by_region:
        writer.writerow(
            ["region", region.region_code or UNKNOWN, region.region_name or "", region.count]
        )
    for year in stats.growth_by_year:
        writer.writerow(["joined_in_year", year.year, "", year.joined])
        writer.writerow(["ended_in_year", year.year, "", year.ended])
        writer.writerow(["members_at_year_end", year.year, "", year.members_at_year_end])
    return out.getvalue()
