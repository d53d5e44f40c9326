"""Talent profiles over HTTP: identity documents, normalised input, history, masking, outbox."""

from __future__ import annotations

import base64
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from stdnum.cn import ric

from ..factories import plan, plan_nodes, resident_id, statements, with_wrong_check_digit

PROBLEM = "application/problem+json"
PEOPLE = "/api/v1/people"


def fields_of(response) -> set[str]:  # type: ignore[no-untyped-def]
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    body = response.json()
    assert body["status"] == response.status_code
    return {e["field"] for e in body.get("errors", [])}


def wide(value: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in value)


def resident_ending_in_x() -> str:
    while True:
        number = resident_id()
        if number.endswith("X"):
            return number


@pytest.fixture
def admin(factory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return factory.caller("platform_admin")


def post(client, headers, **fields):  # type: ignore[no-untyped-def]
    fields.setdefault("name", "王" + uuid.uuid4().hex[:4])
    return client.post(PEOPLE, json=fields, headers=headers)


def created(client, headers, **fields) -> dict:  # type: ignore[no-untyped-def]
    response = post(client, headers, **fields)
    assert response.status_code == 201, response.text
    return response.json()


def listed_ids(client, headers, **params) -> list[str]:  # type: ignore[no-untyped-def]
    """The ids of the people's list under `params`, in its order."""
    response = client.get(PEOPLE, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()["items"]]


def history_of(client, headers, person_id, **params) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(f"{PEOPLE}/{person_id}/history", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# --- creating -------------------------------------------------------------------------------


def test_create_with_every_field_normalised(client, admin) -> None:
    number = resident_id(date(1985, 3, 2), "female", region="110108")
    response = post(
        client,
        admin,
        name=" 李　华 ",
        name_en="Li Hua",
        gender="女",
        birth_date="1985年3月2日",
        id_type="居民身份证",
        id_number=number,
        phone="+86 139 0000 1111",
        email="Li.Hua@PKU.EDU.CN",
        orcid="https://orcid.org/0000-0002-1825-0097",
        nationality="cn",
        region_code="1101",
        institution="北京大学（工学院）",
        institution_uscc="91350100M000100Y43",
        title_level="教授",
        position="院长",
        highest_degree="博士",
        discipline_codes=["130.15", "１３０", "520.10.20"],
        research_fields=["湍流", "计算流体力学"],
        talent_tags=["杰青"],
        expert_opt_in=True,
    )
    assert response.status_code == 201, response.text
    person = response.json()
    assert person["name"] == "李华"  # the space that lines names up is not part of them
    assert person["gender"] == "female"
    assert person["birth_date"] == "1985-03-02"
    assert person["id_type"] == "resident_id"
    assert person["id_number_masked"] == number[:3] + "*" * 11 + number[-4:]
    assert person["phone"] == "13900001111"
    assert person["email"] == "Li.Hua@pku.edu.cn"
    assert person["orcid"] == "0000-0002-1825-0097"
    assert person["nationality"] == "CN"
    assert person["region_of_origin"] == "mainland"
    assert person["region_code"] == "110100"
    assert person["institution"] == "北京大学（工学院）"
    assert person["institution_uscc"] == "91350100M000100Y43"
    assert person["title_level"] == "senior"
    assert person["discipline_codes"] == ["13015", "130", "5201020"]
    assert person["research_fields"] == ["湍流", "计算流体力学"]
    assert person["talent_tags"] == ["杰青"]
    assert person["expert_opt_in"] is True
    assert person["status"] == "active"
    assert person["version"] == 1
    assert "id_number" not in person
    assert number not in response.text

    again = client.get(f"{PEOPLE}/{person['id']}", headers=admin)
    assert again.status_code == 200
    assert again.json() == person


def test_full_width_phone_with_spaces_is_stored_as_digits(client, admin) -> None:
    person = created(client, admin, phone="１３９ ００００ １１１１")
    assert person["phone"] == "13900001111"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+86 10 6857 1898", "01068571898"),
        ("0086-571-8888-1234", "057188881234"),
        ("(+86) 755 2345 678", "07552345678"),
        ("010-6857 1898", "01068571898"),
        ("+86 (0)10 6857 1898", "01068571898"),
        ("+86-0571-8888-1234", "057188881234"),
    ],
)
def test_a_mainland_landline_is_stored_as_dialled_at_home_with_or_without_86(
    client, admin, typed, stored
) -> None:
    # One number, one form: imports and inline memberships match people by phone.
    assert created(client, admin, phone=typed)["phone"] == stored


@pytest.mark.parametrize("typed", ["1985/3/2", "1985年3月2日", "1985-03-02", "19850302", 31108])
def test_birth_dates_as_people_type_them(client, admin, typed) -> None:
    assert created(client, admin, birth_date=typed)["birth_date"] == "1985-03-02"


def test_birth_date_and_gender_are_derived_from_the_resident_id(client, admin) -> None:
    number = resident_id(date(1972, 11, 30), "male")
    person = created(client, admin, id_number=number)
    assert person["birth_date"] == "1972-11-30"
    assert person["gender"] == "male"
    assert person["id_type"] == "resident_id"
    assert person["region_of_origin"] == "mainland"


def test_a_person_born_before_their_region_code_existed_is_accepted(client, admin) -> None:
    body = "44030519620810" + f"{uuid.uuid4().int % 500 * 2 + 1:03d}"
    number = body + ric.calc_check_digit(body + "0")
    person = created(client, admin, id_number=number)
    assert person["birth_date"] == "1962-08-10"


# --- refusing bad resident IDs -----------------------------------------------------------------


def test_resident_id_with_wrong_check_digit_is_refused_naming_the_field(client, admin) -> None:
    response = post(client, admin, id_number=with_wrong_check_digit(resident_id()))
    assert response.status_code == 422
    assert fields_of(response) == {"id_number"}
    assert "check digit" in response.json()["errors"][0]["reason"]


def test_resident_id_with_impossible_birth_date_is_refused(client, admin) -> None:
    body = "11010819850230001"
    response = post(client, admin, id_number=body + ric.calc_check_digit(body + "0"))
    assert response.status_code == 422
    assert fields_of(response) == {"id_number"}
    assert "birth date" in response.json()["errors"][0]["reason"]


def test_resident_id_encoding_a_future_birth_is_refused(client, admin) -> None:
    number = resident_id(date.today() + timedelta(days=60))
    response = post(client, admin, id_number=number)
    assert response.status_code == 422
    assert fields_of(response) == {"id_number"}
    assert "future" in response.json()["errors"][0]["reason"]


@pytest.mark.parametrize("cut", [15, 17])
def test_resident_id_of_wrong_length_is_refused(client, admin, cut) -> None:
    response = post(client, admin, id_number=resident_id()[:cut])
    assert response.status_code == 422
    assert fields_of(response) == {"id_number"}
    assert "18 characters" in response.json()["errors"][0]["reason"]


def test_resident_id_disagreeing_with_birth_date_is_refused_naming_id_number(client, admin) -> None:
    number = resident_id(date(1980, 1, 1), "male")
    response = post(client, admin, id_number=number, birth_date="1980-01-02")
    assert response.status_code == 422
    assert fields_of(response) == {"id_number"}


def test_resident_id_disagreeing_with_gender_is_refused_naming_id_number(client, admin) -> None:
    number = resident_id(date(1980, 1, 1), "male")
    response = post(client, admin, id_number=number, gender="女")
    assert response.status_code == 422
    assert fields_of(response) == {"id_number"}


def test_id_type_without_a_number_is_refused(client, admin) -> None:
    response = post(client, admin, id_type="passport")
    assert response.status_code == 422
    assert fields_of(response) == {"id_number"}


# --- other documents -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("id_type", "number", "origin"),
    [
        ("passport", "E{}", None),
        ("hk_macao_permit", "H{}", "hong_kong"),
        ("hk_macao_permit", "m{}", "macao"),
        ("taiwan_permit", "{}", "taiwan"),
        ("港澳居民来往内地通行证", "H{}", "hong_kong"),
    ],
)
def test_other_documents_are_accepted_with_basic_checks(client, admin, id_type, number, origin):  # type: ignore[no-untyped-def]
    digits = f"{uuid.uuid4().int % 10**8:08d}"
    person = created(client, admin, id_type=id_type, id_number=number.format(digits))
    assert person["region_of_origin"] == origin
    assert person["birth_date"] is None
    assert person["id_number_masked"].endswith(digits[-2:])


def test_given_region_of_origin_wins_over_the_document(client, admin) -> None:
    digits = f"{uuid.uuid4().int % 10**8:08d}"
    person = created(
        client, admin, id_type="passport", id_number=f"G{digits}", region_of_origin="外籍"
    )
    assert person["region_of_origin"] == "foreign"


@pytest.mark.parametrize(
    ("id_type", "number"),
    [
        ("hk_macao_permit", "X12345678"),
        ("taiwan_permit", "12AB5678"),
        ("passport", "E12-34"),
        # Digits of other scripts (Arabic-Indic, Devanagari) are no document's digits.
        ("hk_macao_permit", "H\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668"),
        ("taiwan_permit", "\u0967\u0968\u0969\u096a\u096b\u096c\u096d\u096e"),
        ("foreign_permanent_resident", "USA\u0661\u0662\u0663\u0664\u0665\u0666123456"),
    ],
)
def test_malformed_other_documents_are_refused(client, admin, id_type, number) -> None:
    response = post(client, admin, id_type=id_type, id_number=number)
    assert response.status_code == 422
    assert fields_of(response) == {"id_number"}


def test_the_same_number_under_two_document_types_is_two_documents(client, admin) -> None:
    digits = f"{uuid.uuid4().int % 10**8:08d}"
    created(client, admin, id_type="taiwan_permit", id_number=digits)
    created(client, admin, id_type="other", id_number=digits)


# --- refusing bad values ---------------------------------------------------------------------


def test_future_birth_date_is_refused(client, admin) -> None:
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    response = post(client, admin, birth_date=tomorrow)
    assert response.status_code == 422
    assert fields_of(response) == {"birth_date"}


def test_impossible_birth_date_is_refused(client, admin) -> None:
    response = post(client, admin, birth_date="1985/2/30")
    assert response.status_code == 422
    assert fields_of(response) == {"birth_date"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("gender", "other"),
        ("title_level", "大师"),
        ("id_type", "driving_licence"),
        ("region_of_origin", "mars"),
        ("status", "retired"),
        ("nationality", "CHN"),
        ("nationality", "ZZ"),
        ("nationality", "AN"),
        ("discipline_codes", ["13"]),
        ("discipline_codes", ["999"]),
        ("discipline_codes", ["130", "00015"]),
        ("phone", "1390000111"),
        ("email", "not-an-email"),
        ("orcid", "0000-0002-1825-0098"),
        (
            "orcid",
            "\u0660\u0660\u0660\u0660-\u0660\u0660\u0660\u0660-\u0660\u0660\u0660\u0660-\u0660\u0660\u0661X",
        ),
        ("region_code", "999999"),
        ("institution_uscc", "91350100M000100Y44"),
        ("expert_opt_in", "perhaps"),
    ],
)
def test_unknown_or_invalid_values_are_refused_naming_the_field(client, admin, field, value):  # type: ignore[no-untyped-def]
    response = post(client, admin, **{field: value})
    assert response.status_code == 422
    fields = fields_of(response)
    assert fields == {field} or all(f.startswith(f"{field}.") for f in fields), fields


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"name": "\\ud800\u5f20"}', "name"),
        ('{"name": "x", "institution": "\\udfff"}', "institution"),
        ('{"name": "x", "research_fields": ["\u529b\\ud83d"]}', "research_fields.0"),
        ('{"name": "x", "biography": "a\\udc00b"}', "biography"),
        ('{"name": "x", "email": "a\\ud800@example.cn"}', "email"),
    ],
)
def test_text_with_an_unpaired_surrogate_is_refused_naming_the_field(
    client, admin, body, field
) -> None:
    # JSON may escape half of a surrogate pair; such text cannot be stored as UTF-8.
    headers = {**admin, "content-type": "application/json"}
    response = client.post(PEOPLE, content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert fields_of(response) == {field}
    person = created(client, admin)
    changed = client.patch(f"{PEOPLE}/{person['id']}", content=body, headers=headers)
    assert changed.status_code == 422, changed.text
    assert fields_of(changed) == {field}


@pytest.mark.parametrize("email", ["a\x00b@example.cn", "a\x01b@example.cn", "ab@exa\x7fmple.cn"])
def test_email_with_control_characters_is_refused_naming_email(client, admin, email) -> None:
    response = post(client, admin, email=email)
    assert response.status_code == 422, response.text
    assert fields_of(response) == {"email"}


def test_a_discipline_code_given_twice_is_stored_once(client, admin) -> None:
    person = created(client, admin, discipline_codes=["130", "１３０", "130.15", "13015"])
    assert person["discipline_codes"] == ["130", "13015"]
    changed = client.patch(
        f"{PEOPLE}/{person['id']}", json={"discipline_codes": ["520", "520"]}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["discipline_codes"] == ["520"]


def test_discipline_codes_in_digits_of_other_scripts_are_refused(client, admin) -> None:
    # Arabic-Indic and Devanagari digits match a regular expression's \d; GB/T 13745 is ASCII.
    response = post(client, admin, discipline_codes=["130", "\u0661\u0663\u0660"])
    assert response.status_code == 422, response.text
    assert fields_of(response) == {"discipline_codes.1"}
    listed = client.get(PEOPLE, params={"discipline_code": "\u0967\u0969\u0966"}, headers=admin)
    assert listed.status_code == 422, listed.text
    assert fields_of(listed) == {"discipline_code"}


def test_unknown_fields_are_refused(client, admin) -> None:
    response = post(client, admin, id_card="x", salary=1)
    assert response.status_code == 422
    assert fields_of(response) == {"id_card", "salary"}


def test_name_is_required(client, admin) -> None:
    response = client.post(PEOPLE, json={"gender": "male"}, headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"name"}


# --- duplicates -------------------------------------------------------------------------------


def test_duplicate_document_number_is_a_409_naming_id_number(client, admin) -> None:
    number = resident_id()
    created(client, admin, id_number=number)
    response = post(client, admin, id_number=number)
    assert response.status_code == 409
    assert fields_of(response) == {"id_number"}
    assert number not in response.text


def test_duplicate_typed_with_lower_case_x_or_full_width_digits_is_still_a_duplicate(
    client, admin
) -> None:
    number = resident_ending_in_x()
    created(client, admin, id_number=number)
    for typed in (number.lower(), wide(number), f"{number[:6]} {number[6:14]} {number[14:]}"):
        response = post(client, admin, id_number=typed)
        assert response.status_code == 409, typed
        assert fields_of(response) == {"id_number"}


# --- reading ----------------------------------------------------------------------------------


def test_no_response_carries_the_plaintext_id_number(client, admin) -> None:
    number = resident_id()
    person = created(client, admin, id_number=number, name="掩码测试")
    pid = person["id"]
    responses = [
        client.get(f"{PEOPLE}/{pid}", headers=admin),
        client.get(PEOPLE, params={"q": "掩码测试"}, headers=admin),
        client.patch(f"{PEOPLE}/{pid}", json={"position": "所长"}, headers=admin),
        client.get(f"{PEOPLE}/{pid}/history", headers=admin),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        assert number not in response.text
        assert number[6:14] + number[14:17] not in response.text
    for item in [responses[0].json(), *responses[1].json()["items"], responses[2].json()]:
        assert "id_number" not in item
        assert item["id_number_masked"] == number[:3] + "*" * 11 + number[-4:]


def test_unknown_person_is_a_404(client, admin) -> None:
    response = client.get(f"{PEOPLE}/{uuid.uuid4()}", headers=admin)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)


def test_malformed_person_id_is_a_422_naming_person_id(client, admin) -> None:
    response = client.get(f"{PEOPLE}/not-a-uuid", headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"person_id"}


def test_society_staff_see_only_profiles_their_society_recorded(client, factory) -> None:
    mine, theirs = factory.org(), factory.org()
    headers = factory.caller("org_admin", mine)
    own = created(client, headers, name="本会会员")
    other = factory.person(org=theirs)
    assert client.get(f"{PEOPLE}/{own['id']}", headers=headers).status_code == 200
    assert client.get(f"{PEOPLE}/{other.id}", headers=headers).status_code == 404
    patch = client.patch(f"{PEOPLE}/{other.id}", json={"position": "x"}, headers=headers)
    assert patch.status_code == 404
    assert client.get(f"{PEOPLE}/{other.id}/history", headers=headers).status_code == 404


def test_list_filters_and_pages(client, admin) -> None:
    tag = uuid.uuid4().hex[:6]
    ids = [
        created(
            client,
            admin,
            name=f"筛选{tag}{i}",
            gender="male" if i % 2 else "female",
            title_level="senior" if i < 3 else "junior",
            discipline_codes=["13015"] if i < 2 else ["520"],
            region_code="110108" if i < 4 else "310104",
            institution=f"清华大学{tag}" if i == 0 else f"复旦大学{tag}",
            expert_opt_in=i == 4,
        )["id"]
        for i in range(5)
    ]

    def listed(**params):  # type: ignore[no-untyped-def]
        return listed_ids(client, admin, q=f"筛选{tag}", **params)

    assert listed() == ids
    assert listed(gender="female") == [ids[0], ids[2], ids[4]]
    assert listed(title_level="senior") == ids[:3]
    assert listed(discipline_code="130") == ids[:2]
    assert listed(discipline_code="130.15") == ids[:2]
    assert listed(region_code="31") == [ids[4]]
    assert listed(institution=f"清华大学{tag}") == [ids[0]]
    assert listed(expert_opt_in=True) == [ids[4]]

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(PEOPLE, params={"q": f"筛选{tag}", **params}, headers=admin).json()
        seen.extend(p["id"] for p in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids


def test_list_filters_take_names_and_institutions_as_people_type_them(client, admin) -> None:
    tag = uuid.uuid4().hex[:6]
    wide_tag = wide(tag)
    person = created(
        client, admin, name=f"欧阳{tag}", name_en=f"Ouyang {tag}", institution=f"北京大学{tag}"
    )

    # Stored names and institutions are folded (full-width letters, spaces between Chinese
    # characters, surrounding spaces); the filters are compared in the same form.
    assert listed_ids(client, admin, q=f" 欧　阳{wide_tag}") == [person["id"]]
    assert listed_ids(client, admin, q=f"ＯＵＹＡＮＧ {wide_tag}") == [person["id"]]
    assert listed_ids(client, admin, institution=f"　北京大学{wide_tag} ") == [person["id"]]


def test_list_by_a_province_or_city_code_finds_the_people_working_within_it(client, admin) -> None:
    tag = uuid.uuid4().hex[:6]
    haidian = created(client, admin, name=f"区域{tag}", region_code="110108")["id"]
    beijing = created(client, admin, name=f"区域{tag}", region_code="110000")["id"]
    shanghai = created(client, admin, name=f"区域{tag}", region_code="310104")["id"]

    def listed(region_code: str) -> list[str]:
        return listed_ids(client, admin, q=f"区域{tag}", region_code=region_code)

    # A province's or city's own code, as statistics and facets give it, stands for its prefix.
    assert listed("110000") == [haidian, beijing]
    assert listed("110100") == [haidian]
    assert listed("11") == [haidian, beijing]
    assert listed("310104") == [shanghai]
    # 1100 is the province, as a profile's region code `1100` is 110000; another prefix is taken
    # as given: 11010 is Dongcheng's to Haidian's districts.
    assert listed("1100") == [haidian, beijing]
    assert listed("11010") == [haidian]
    assert listed("１１０１") == [haidian]  # full-width digits, as an input method types them


def test_a_list_cursor_reused_with_other_filters_is_refused(client, admin) -> None:
    tag = uuid.uuid4().hex[:6]
    for gender in ("female", "male", "female", "male"):
        created(client, admin, name=f"游标{tag}", gender=gender)
    params = {"q": f"游标{tag}", "gender": "female", "limit": 1}
    first = client.get(PEOPLE, params=params, headers=admin).json()
    cursor = first["next_cursor"]
    # The cursor is where a walk through one list stands: with other filters it would skip
    # every matching profile older than that point.
    for other in ({"gender": "male"}, {"q": f"游标{tag}0"}, {"gender": None}):
        changed = {k: v for k, v in {**params, **other, "cursor": cursor}.items() if v}
        response = client.get(PEOPLE, params=changed, headers=admin)
        assert response.status_code == 422, (other, response.text)
        assert fields_of(response) == {"cursor"}
    # The page length may change along the way.
    rest = client.get(PEOPLE, params={**params, "limit": 5, "cursor": cursor}, headers=admin)
    assert rest.status_code == 200, rest.text
    assert len(rest.json()["items"]) == 1


def test_list_refuses_unknown_enum_values_and_bad_pages(client, admin) -> None:
    for params, field in (
        ({"gender": "x"}, "gender"),
        ({"title_level": "大师"}, "title_level"),
        ({"limit": 201}, "limit"),
        ({"cursor": "@@@"}, "cursor"),
    ):
        response = client.get(PEOPLE, params=params, headers=admin)
        assert response.status_code == 422, params
        assert fields_of(response) == {field}


# --- changing ---------------------------------------------------------------------------------


def test_patch_changes_only_given_fields_and_records_one_row_per_field(client, factory) -> None:
    org = factory.org()
    account = factory.account("org_admin", org)
    headers = factory.headers(account)
    person = created(
        client, headers, phone="13900001111", title_level="副教授", institution="北京大学"
    )
    response = client.patch(
        f"{PEOPLE}/{person['id']}",
        json={"phone": "13811112222", "title_level": "教授", "institution": "北京大学"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["phone"] == "13811112222"
    assert changed["title_level"] == "senior"
    assert changed["institution"] == "北京大学"
    assert changed["name"] == person["name"]
    assert changed["version"] == person["version"] + 1
    assert changed["updated_at"] > person["updated_at"]

    items = history_of(client, headers, person["id"])["items"]
    assert [i["field"] for i in items] == ["created", "phone", "title_level"]
    phone, title = items[1], items[2]
    assert (phone["old_value"], phone["new_value"]) == ("139****1111", "138****2222")
    assert (title["old_value"], title["new_value"]) == ("associate_senior", "senior")
    assert phone["change_id"] == title["change_id"]
    assert {i["actor"] for i in items[1:]} == {account.username}
    assert {i["source"] for i in items[1:]} == {"api"}


def test_patch_without_any_change_does_not_bump_the_version(client, admin) -> None:
    person = created(client, admin, position="所长")
    response = client.patch(f"{PEOPLE}/{person['id']}", json={"position": "所长"}, headers=admin)
    assert response.json()["version"] == person["version"]
    assert [i["field"] for i in history_of(client, admin, person["id"])["items"]] == ["created"]


def test_patch_reason_is_kept_in_history(client, admin) -> None:
    person = created(client, admin)
    client.patch(
        f"{PEOPLE}/{person['id']}",
        json={"status": "deceased", "reason": "家属告知"},
        headers=admin,
    )
    last = history_of(client, admin, person["id"])["items"][-1]
    assert (last["field"], last["new_value"], last["reason"]) == ("status", "deceased", "家属告知")


def test_patch_null_clears_optional_fields_but_not_required_ones(client, admin) -> None:
    person = created(client, admin, position="所长", discipline_codes=["130"])
    url = f"{PEOPLE}/{person['id']}"
    cleared = client.patch(url, json={"position": None, "discipline_codes": None}, headers=admin)
    assert cleared.status_code == 200
    assert cleared.json()["position"] is None
    assert cleared.json()["discipline_codes"] == []
    for field in ("name", "status", "expert_opt_in"):
        response = client.patch(url, json={field: None}, headers=admin)
        assert response.status_code == 422, field
        assert fields_of(response) == {field}


def test_patch_birth_date_disagreeing_with_stored_resident_id_is_refused(client, admin) -> None:
    number = resident_id(date(1980, 6, 1), "female")
    person = created(client, admin, id_number=number)
    url = f"{PEOPLE}/{person['id']}"
    response = client.patch(url, json={"birth_date": "1980-06-02"}, headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"birth_date"}
    response = client.patch(url, json={"gender": "male"}, headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"gender"}
    for field in ("birth_date", "gender"):
        response = client.patch(url, json={field: None}, headers=admin)
        assert response.status_code == 422
        assert fields_of(response) == {field}
    kept = client.get(url, headers=admin).json()
    assert (kept["birth_date"], kept["gender"], kept["version"]) == ("1980-06-01", "female", 1)


def test_patch_id_number_re_encrypts_and_frees_the_old_number(client, admin, runtime, db) -> None:
    old_number = resident_id(date(1980, 6, 1), "female")
    new_number = resident_id(date(1980, 6, 1), "female")
    person = created(client, admin, id_number=old_number)
    before = db.execute(
        text("SELECT id_number_enc, id_number_bidx FROM person WHERE id = :id"),
        {"id": person["id"]},
    ).one()
    response = client.patch(
        f"{PEOPLE}/{person['id']}", json={"id_number": new_number}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["id_number_masked"] == new_number[:3] + "*" * 11 + new_number[-4:]
    db.rollback()
    after = db.execute(
        text("SELECT id_number_enc, id_number_bidx FROM person WHERE id = :id"),
        {"id": person["id"]},
    ).one()
    assert after.id_number_enc != before.id_number_enc
    assert after.id_number_bidx != before.id_number_bidx
    pid = uuid.UUID(person["id"])
    assert runtime.pii.decrypt(bytes(after.id_number_enc), context=pid.bytes) == new_number

    last = history_of(client, admin, person["id"])["items"][-1]
    assert last["field"] == "id_number"
    assert last["old_value"] == old_number[:3] + "*" * 11 + old_number[-4:]
    assert last["new_value"] == new_number[:3] + "*" * 11 + new_number[-4:]
    created(client, admin, id_number=old_number)  # the old number is free again
    taken = post(client, admin, id_number=new_number)
    assert taken.status_code == 409


def test_patch_id_number_disagreeing_with_stored_birth_date_is_refused(client, admin) -> None:
    person = created(client, admin, id_number=resident_id(date(1980, 6, 1), "female"))
    other = resident_id(date(1981, 6, 1), "female")
    response = client.patch(f"{PEOPLE}/{person['id']}", json={"id_number": other}, headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"id_number"}
    both = client.patch(
        f"{PEOPLE}/{person['id']}",
        json={"id_number": other, "birth_date": "1981-06-01"},
        headers=admin,
    )
    assert both.status_code == 200, both.text


def test_patch_id_number_fills_in_missing_birth_date_and_gender(client, admin) -> None:
    person = created(client, admin)
    number = resident_id(date(1990, 2, 3), "male")
    response = client.patch(f"{PEOPLE}/{person['id']}", json={"id_number": number}, headers=admin)
    assert response.status_code == 200, response.text
    assert (response.json()["birth_date"], response.json()["gender"]) == ("1990-02-03", "male")
    fields = [i["field"] for i in history_of(client, admin, person["id"])["items"]]
    assert set(fields[1:]) == {"id_type", "id_number", "birth_date", "gender", "region_of_origin"}


def test_patch_to_a_number_another_person_holds_is_a_409(client, admin) -> None:
    number = resident_id()
    created(client, admin, id_number=number)
    person = created(client, admin)
    response = client.patch(f"{PEOPLE}/{person['id']}", json={"id_number": number}, headers=admin)
    assert response.status_code == 409
    assert fields_of(response) == {"id_number"}


def test_patch_id_type_alone_is_refused(client, admin) -> None:
    person = created(client, admin, id_number=resident_id())
    response = client.patch(f"{PEOPLE}/{person['id']}", json={"id_type": "passport"}, headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"id_number"}


def test_patch_id_number_to_null_is_refused_not_ignored(client, admin) -> None:
    person = created(client, admin, id_number=resident_id())
    response = client.patch(f"{PEOPLE}/{person['id']}", json={"id_number": None}, headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"id_number"}


def test_patch_id_type_to_null_is_refused_while_a_document_is_held(client, admin) -> None:
    passport = f"E{uuid.uuid4().int % 10**8:08d}"
    person = created(client, admin, id_type="passport", id_number=passport)
    response = client.patch(f"{PEOPLE}/{person['id']}", json={"id_type": None}, headers=admin)
    assert response.status_code == 422, response.text
    assert fields_of(response) == {"id_type"}
    assert client.get(f"{PEOPLE}/{person['id']}", headers=admin).json()["id_type"] == "passport"
    # Without a document there is no type to clear: nothing changes.
    bare = created(client, admin)
    response = client.patch(f"{PEOPLE}/{bare['id']}", json={"id_type": None}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == bare["version"]


def test_patch_refuses_unknown_fields(client, admin) -> None:
    person = created(client, admin)
    response = client.patch(f"{PEOPLE}/{person['id']}", json={"org_code": "X"}, headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"org_code"}


def test_history_pages(client, admin) -> None:
    person = created(client, admin)
    for i in range(4):
        client.patch(f"{PEOPLE}/{person['id']}", json={"position": f"职位{i}"}, headers=admin)
    first = history_of(client, admin, person["id"], limit=2)
    assert [i["field"] for i in first["items"]] == ["created", "position"]
    second = history_of(client, admin, person["id"], limit=2, cursor=first["next_cursor"])
    third = history_of(client, admin, person["id"], limit=2, cursor=second["next_cursor"])
    assert [i["new_value"] for i in second["items"] + third["items"]] == [
        "职位1",
        "职位2",
        "职位3",
    ]
    assert third["next_cursor"] is None
    bad = client.get(f"{PEOPLE}/{person['id']}/history", params={"cursor": "zz"}, headers=admin)
    assert bad.status_code == 422
    assert fields_of(bad) == {"cursor"}


def test_a_history_cursor_beyond_any_entry_number_is_refused_naming_cursor(client, admin) -> None:
    person = created(client, admin)
    for number in (2**63, 10**40):
        cursor = base64.urlsafe_b64encode(b"i%d" % number).decode().rstrip("=")
        response = client.get(
            f"{PEOPLE}/{person['id']}/history", params={"cursor": cursor}, headers=admin
        )
        assert response.status_code == 422, response.text
        assert fields_of(response) == {"cursor"}


# --- the search outbox ------------------------------------------------------------------------


def outbox_count(db, person_id: str) -> int:  # type: ignore[no-untyped-def]
    db.rollback()
    return db.execute(
        text("SELECT count(*) FROM search_outbox WHERE person_id = :id"), {"id": person_id}
    ).scalar_one()


def test_creating_and_changing_a_person_appends_to_the_search_outbox(client, admin, db) -> None:
    person = created(client, admin, research_fields=["湍流"], expert_opt_in=True)
    assert outbox_count(db, person["id"]) == 1
    client.patch(f"{PEOPLE}/{person['id']}", json={"research_fields": ["燃烧"]}, headers=admin)
    assert outbox_count(db, person["id"]) == 2
    client.patch(f"{PEOPLE}/{person['id']}", json={"research_fields": ["燃烧"]}, headers=admin)
    assert outbox_count(db, person["id"]) == 2  # nothing changed, nothing to reindex


def test_a_person_created_outside_the_expert_pool_queues_nothing_until_they_opt_in(
    client, admin, db
) -> None:
    """A new profile that may not be found has no document to write or remove: queuing it
    would only leave a tombstone behind for every member who never opts in."""
    person = created(client, admin, research_fields=["湍流"])
    assert outbox_count(db, person["id"]) == 0
    client.patch(f"{PEOPLE}/{person['id']}", json={"expert_opt_in": True}, headers=admin)
    assert outbox_count(db, person["id"]) == 1


def test_a_refused_create_leaves_nothing_behind(client, admin, db) -> None:
    number = resident_id()
    created(client, admin, id_number=number, name="唯一")
    db.rollback()
    before = db.execute(text("SELECT count(*) FROM person")).scalar_one()
    outbox = db.execute(text("SELECT count(*) FROM search_outbox")).scalar_one()
    assert post(client, admin, id_number=number).status_code == 409
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM person")).scalar_one() == before
    assert db.execute(text("SELECT count(*) FROM search_outbox")).scalar_one() == outbox


def test_the_start_of_a_name_is_found_through_an_index_of_names(client, admin, runtime, db) -> None:
    """`q` compares the start of the name, or of the Latin name in any case, in a way an index
    serves: with every plan but index bitmaps priced out, the profiles are found through the
    indexes of names, not by reading every profile."""
    tag = uuid.uuid4().hex[:6]
    person = created(client, admin, name=f"索引{tag}", name_en=f"Suoyin {tag}")
    for q in (f"索引{tag}", f"suoyin {tag}"):
        with statements(runtime) as seen:
            response = client.get(PEOPLE, params={"q": q}, headers=admin)
        assert response.status_code == 200, response.text
        assert [p["id"] for p in response.json()["items"]] == [person["id"]]
        (statement, parameters) = next((s, p) for s, p in seen if "FROM person" in s)
        nodes = list(
            plan_nodes(
                plan(db, statement, parameters, enable_seqscan="off", enable_indexscan="off")
            )
        )
        assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], nodes
        used = {n.get("Index Name") for n in nodes if n["Node Type"] == "Bitmap Index Scan"}
        assert used == {"ix_person_name_birth_date", "ix_person_lower_name_en"}


def test_staff_page_through_their_people_reading_their_scope_not_the_registry(
    client, factory, runtime, db
) -> None:
    """Staff list their scope's people (members of the association and of the organisations
    below it, and profiles it recorded) in id order, a page at a time, each once; the pages are read
    from the society's memberships by index, never by walking every profile."""
    society = factory.org(kind="provincial_association")
    branch = factory.org(kind="local_association", parent=society.code)
    elsewhere = factory.org()
    members = [factory.person(org=elsewhere) for _ in range(3)]
    for person in members:
        factory.membership(society, person, grade="member", status="active")
    factory.membership(branch, members[0], grade="member", status="active")  # twice in scope
    below = factory.person(org=elsewhere)
    factory.membership(branch, below, grade="member", status="active")
    recorded = factory.person(org=society)  # recorded by the society, a member of none
    outsider = factory.person(org=elsewhere)
    factory.membership(elsewhere, outsider, grade="member", status="active")
    staff = factory.caller("org_staff", society)
    expected = sorted(str(p.id) for p in [*members, below, recorded])

    seen, cursor = [], None
    with statements(runtime) as ran:
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = client.get(PEOPLE, params=params, headers=staff).json()
            seen += [p["id"] for p in page["items"]]
            if not (cursor := page["next_cursor"]):
                break
    assert seen == expected
    assert listed_ids(client, staff, gender="female") == [
        i
        for i in expected
        if client.get(f"{PEOPLE}/{i}", headers=staff).json()["gender"] == "female"
    ]
    listing = next(s for s in ran if "FROM person" in s[0] and "LATERAL" in s[0])
    nodes = list(plan_nodes(plan(db, *listing, enable_seqscan="off")))
    by_org = {"ix_membership_org_id_id", "uq_membership_org_id_member_no"}  # org_id first
    membership = [
        n for n in nodes if n.get("Index Name", "").startswith(("ix_membership", "uq_membership"))
    ]
    assert membership, nodes
    assert {n["Index Name"] for n in membership} <= by_org, membership
    walks = [n for n in nodes if n.get("Index Name") == "pk_person" and "Index Cond" not in n]
    assert not walks, walks


def test_a_scope_grown_past_the_sorted_bound_since_its_last_list_is_listed_whole(
    client, factory, monkeypatch
) -> None:
    """A society that imports a large list between two looks at its people: the second list
    shows every member, not those of an arbitrary cut at the bound of the sorted plan (its size
    class was remembered from before the import)."""
    from services.registry.people import service as people_service

    monkeypatch.setattr(people_service, "SCOPE_SORTED_MAX", 4)
    society = factory.org()
    elsewhere = factory.org()
    staff = factory.caller("org_staff", society)
    first = [factory.person(org=elsewhere) for _ in range(2)]
    for person in first:
        factory.membership(society, person, grade="member", status="active")
    assert listed_ids(client, staff) == sorted(str(p.id) for p in first)
    assert listed_ids(client, staff, org_code=society.code) == sorted(str(p.id) for p in first)

    imported = [factory.person(org=elsewhere) for _ in range(6)]
    for person in imported:
        factory.membership(society, person, grade="member", status="active")
    expected = sorted(str(p.id) for p in [*first, *imported])
    assert listed_ids(client, staff, limit=100) == expected
    assert listed_ids(client, staff, org_code=society.code, limit=100) == expected


def test_a_scope_that_grows_between_its_count_and_its_page_is_listed_whole(
    client, factory, monkeypatch
) -> None:
    """An import committing between the count that chose the sorted plan and the page it
    reads: the page still holds every member (the plan's scope is not cut at the bound)."""
    from services.registry.people import service as people_service

    monkeypatch.setattr(people_service, "SCOPE_SORTED_MAX", 4)
    monkeypatch.setattr(people_service, "_small_scope", lambda *args: True)  # counted before
    society = factory.org()
    elsewhere = factory.org()
    staff = factory.caller("org_staff", society)
    members = [factory.person(org=elsewhere) for _ in range(8)]
    for person in members:
        factory.membership(society, person, grade="member", status="active")
    expected = sorted(str(p.id) for p in members)
    assert listed_ids(client, staff, limit=100) == expected
    assert listed_ids(client, staff, org_code=society.code, limit=100) == expected


def test_a_name_searched_within_an_organisation_finds_its_members_in_scope(client, factory) -> None:
    """The start of a name and an organisation together: that organisation's members with the
    name, for staff of an organisation above it; nobody for staff outside it."""
    tag = uuid.uuid4().hex[:6]
    province = factory.org(kind="provincial_association")
    society = factory.org(parent=province.code)
    sibling = factory.org()
    member = factory.person(org=sibling, name=f"同名{tag}甲")
    factory.membership(society, member, grade="member", status="active")
    factory.person(org=society, name=f"同名{tag}乙")  # recorded by the society, not a member
    factory.membership(sibling, factory.person(org=sibling, name=f"同名{tag}丙"))
    staff = factory.caller("org_staff", province)
    assert listed_ids(client, staff, q=f"同名{tag}", org_code=society.code) == [str(member.id)]
    outside = factory.caller("org_staff", sibling)
    assert listed_ids(client, outside, q=f"同名{tag}", org_code=society.code) == []
