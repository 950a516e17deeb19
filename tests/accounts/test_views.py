"""The archive's pages: forms validate through the services and show errors on the fields."""

from django.core.files.uploadedfile import SimpleUploadedFile

from kam.accounts.models import Account, Attachment
from kam.core.models import AuditAction, AuditEvent

VALID_CODE = "911000001000013428"


def test_arc1_account_form_creates_an_account_with_region(people, page_client):
    client = page_client(people.manager)
    response = client.post("/accounts/new/", {"name": "中国银行股份有限公司", "credit_code": VALID_CODE, "province": "11",
                                              "city": "1101", "district": "110102", "lifecycle": "customer",
                                              "short_names": "中行，BOC", "tags": "国企, 世界500强"})  # fmt: skip
    account = Account.objects.get()
    assert response["Location"] == f"/accounts/{account.pk}/"
    assert account.short_names == ["中行", "BOC"]
    page = client.get(f"/accounts/{account.pk}/").content.decode()
    assert "北京市 西城区" in page and "中行" in page


def test_arc1_bad_credit_code_shows_the_error_on_the_field_then_can_be_confirmed(people, page_client):
    client = page_client(people.manager)
    bad = VALID_CODE[:-1] + "9"
    response = client.post("/accounts/new/", {"name": "甲公司", "credit_code": bad, "lifecycle": "prospect"})
    assert response.status_code == 200
    assert "credit_code" in response.context["form"].errors
    response = client.post("/accounts/new/", {"name": "甲公司", "credit_code": bad, "credit_code_exception": "on",
                                              "lifecycle": "prospect"})  # fmt: skip
    assert response.status_code == 302


def test_arc5_duplicate_is_shown_with_its_owner(people, make_account, page_client):
    make_account(people.colleague, name="乙有限公司")
    response = page_client(people.head).post(
        "/accounts/new/", {"name": "乙有限责任公司", "lifecycle": "prospect", "owner": people.manager.pk}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "乙有限公司" in html and "王伟" in html
    assert Account.objects.count() == 1


def test_arc5_duplicate_outside_scope_shows_no_name(people, make_account, page_client):
    make_account(people.outsider, name="丙有限公司")
    html = (
        page_client(people.manager)
        .post("/accounts/new/", {"name": "丙有限公司", "lifecycle": "prospect"})
        .content.decode()
    )
    assert "赵强" not in html and "/accounts/" in html
    assert Account.objects.count() == 1


def test_edit_with_a_stale_version_tells_the_user_and_keeps_the_newer_data(people, make_account, page_client):
    from kam.accounts import services

    account = make_account(people.manager, name="丁公司")
    services.account_update(actor=people.manager, account=account, fields={"address": "新地址"}, version=1)
    response = page_client(people.manager).post(f"/accounts/{account.pk}/edit/", {"name": "丁公司", "address": "旧页面的地址",
                                                                                  "lifecycle": "prospect", "version": 1})  # fmt: skip
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    assert Account.objects.get(pk=account.pk).address == "新地址"


def test_arc4_attachment_upload_and_download_are_checked_and_audited(
    people, make_account, page_client, settings, tmp_path
):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                          "OPTIONS": {"location": tmp_path}}}  # fmt: skip
    account = make_account(people.manager)
    client = page_client(people.manager)
    pdf = SimpleUploadedFile("合同.pdf", b"%PDF-1.4 contract", content_type="application/pdf")
    client.post(f"/accounts/{account.pk}/attachments/", {"kind": "contract", "file": pdf})
    attachment = Attachment.objects.get()
    assert attachment.original_name == "合同.pdf" and not attachment.file.name.endswith(".pdf")
    response = client.get(f"/accounts/{account.pk}/attachments/{attachment.pk}/")
    assert b"".join(response.streaming_content) == b"%PDF-1.4 contract"
    assert "filename*=utf-8''%E5%90%88%E5%90%8C.pdf" in response["Content-Disposition"]
    assert AuditEvent.objects.filter(action=AuditAction.DOWNLOAD).count() == 1
    assert page_client(people.outsider).get(f"/accounts/{account.pk}/attachments/{attachment.pk}/").status_code == 404
    fake = SimpleUploadedFile("virus.pdf", b"MZ\x90\x00", content_type="application/pdf")
    client.post(f"/accounts/{account.pk}/attachments/", {"kind": "other", "file": fake})
    assert Attachment.objects.count() == 1


def test_arc2_contact_page_loads_the_personal_file_on_demand_and_audits_it(
    people, make_account, make_contact, page_client
):
    contact = make_contact(make_account(people.manager), name="赵六", hometown="绍兴")
    client = page_client(people.manager)
    page = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "赵六" in page and "绍兴" not in page
    assert not AuditEvent.objects.filter(action=AuditAction.VIEW_PERSONAL).exists()
    assert "绍兴" in client.get(f"/contacts/{contact.pk}/personal/").content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.VIEW_PERSONAL, actor=people.manager).count() == 1


def test_arc2_contact_form_creates_contact_with_position(people, make_account, page_client):
    account = make_account(people.manager)
    response = page_client(people.manager).post(f"/accounts/{account.pk}/contacts/new/", {
        "name": "孙七", "mobile": "13800000000", "personality": "introvert",
        "pos-title": "财务总监", "pos-buying_role": "purchaser", "pos-influence": 4, "pos-attitude": "neutral"})  # fmt: skip
    assert response.status_code == 302
    position = account.positions.get()
    assert (position.contact.name, position.title, position.influence) == ("孙七", "财务总监", 4)


def test_arc3_visitor_register_and_promote_pages(people, page_client):
    client = page_client(people.manager)
    client.post(
        "/visitors/new/",
        {"name": "周先生", "visited_on": "2026-11-20", "employer": "杭州某某机械有限公司", "status": "new"},
    )
    html = client.get("/visitors/").content.decode()
    assert "周先生" in html
    from kam.accounts.models import Visitor

    visitor = Visitor.objects.get()
    response = client.post(f"/visitors/{visitor.pk}/promote/", {})
    assert response.status_code == 302
    assert Account.objects.get().name == "杭州某某机械有限公司"


def test_account_list_queries_do_not_grow_with_rows(people, make_account, page_client, django_assert_max_num_queries):
    for i in range(30):
        make_account(people.manager, name=f"列表客户{i:02d}", province="44", city="4403")
    client = page_client(people.manager)
    with django_assert_max_num_queries(8):
        response = client.get("/accounts/?province=44")
    assert response.status_code == 200 and "列表客户00" in response.content.decode()


def test_account_detail_queries_are_bounded(
    people, make_account, make_contact, page_client, django_assert_max_num_queries
):
    account = make_account(people.manager)
    for i in range(10):
        make_contact(account, name=f"联系人{i}")
    client = page_client(people.manager)
    with django_assert_max_num_queries(25):
        assert client.get(f"/accounts/{account.pk}/").status_code == 200


def test_api_account_list_queries_do_not_grow_with_rows(people, make_account, api, django_assert_max_num_queries):
    for i in range(30):
        make_account(people.manager, name=f"接口客户{i:02d}")
    client = api(people.manager)
    with django_assert_max_num_queries(6):
        response = client.get("/accounts", {"page_size": 30})
    assert response.json()["count"] == 30


def test_gov7_history_is_readable_and_hides_personal_values(people, make_account, make_contact, page_client, api):
    from kam.accounts import services

    account = make_account(people.manager, name="历史客户", province="44", city="4403")
    services.account_update(actor=people.manager, account=account, fields={"lifecycle": "customer"}, version=1)
    make_contact(account, name="隐私联系人", hometown="温州", family_notes="儿子在英国读书")
    html = page_client(people.manager).get(f"/accounts/{account.pk}/").content.decode()
    assert "温州" not in html and "英国" not in html
    assert "深圳市" in html
    events = api(people.manager).get(f"/accounts/{account.pk}/history").json()["items"]
    changes = [c for e in events for c in e["changes"]]
    lifecycle = next(c for c in changes if c["field"] == "lifecycle")
    assert lifecycle["old"] != "prospect"  # a label in the user's language, not the stored code
    hometown = next(c for c in changes if c["field"] == "hometown")
    assert hometown["personal"] and hometown["new"] is None
    assert "温州" not in str(events)


def test_gov7_opening_the_contact_edit_form_is_audited(people, make_account, make_contact, page_client):
    contact = make_contact(make_account(people.manager), name="编辑联系人")
    assert page_client(people.manager).get(f"/contacts/{contact.pk}/edit/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.VIEW_PERSONAL, target_id=str(contact.pk)).count() == 1


def test_arc2_contact_page_offers_a_position_at_another_account(people, make_account, make_contact, page_client):
    first, second = make_account(people.manager, name="第一客户"), make_account(people.manager, name="第二客户")
    contact = make_contact(first, name="兼任者")
    client = page_client(people.manager)
    html = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "第二客户" in html
    response = client.get(f"/contacts/{contact.pk}/positions/new/", {"account": second.pk})
    assert response["Location"] == f"/accounts/{second.pk}/contacts/{contact.pk}/position/"
    client.post(response["Location"], {"title": "顾问", "influence": 2, "attitude": "neutral"})
    assert sorted(contact.positions.values_list("account__name", flat=True)) == ["第一客户", "第二客户"]
