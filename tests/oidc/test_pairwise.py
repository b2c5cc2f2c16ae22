"""Pairwise subject identifiers per sector by default; public per client when configured."""


def test_two_portals_see_different_subjects(make_rp, citizen):
    a = make_rp(name="A", redirect_uris=("https://a.example/cb",))
    b = make_rp(name="B", redirect_uris=("https://b.example/cb",))
    sub_a = a.id_token(a.tokens()["id_token"])["sub"]
    sub_b = b.id_token(b.tokens()["id_token"])["sub"]
    assert sub_a != sub_b
    assert citizen["uuid"] not in (sub_a, sub_b)


def test_portals_of_one_sector_share_the_subject(make_rp, citizen):
    a = make_rp(name="A", redirect_uris=("https://a.example/cb",), sector_identifier="landkreis-leer.de")
    b = make_rp(name="B", redirect_uris=("https://b.example/cb",), sector_identifier="landkreis-leer.de")
    assert a.id_token(a.tokens()["id_token"])["sub"] == b.id_token(b.tokens()["id_token"])["sub"]


def test_same_portal_gets_a_stable_subject(rp, citizen):
    assert rp.id_token(rp.tokens()["id_token"])["sub"] == rp.id_token(rp.tokens()["id_token"])["sub"]


def test_public_subject_type_uses_the_account_id(make_rp, citizen):
    rp = make_rp(subject_type="public")
    assert rp.id_token(rp.tokens()["id_token"])["sub"] == citizen["uuid"]


def test_userinfo_sub_matches_id_token_sub(rp, citizen):
    tokens = rp.tokens()
    assert rp.userinfo(tokens["access_token"]).get_json()["sub"] == rp.id_token(tokens["id_token"])["sub"]
