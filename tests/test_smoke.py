from portal.models import Role


def test_login_page_is_japanese(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert "ログイン" in response.get_data(as_text=True)


def test_admin_reaches_start_page(world, login_as):
    c = login_as(world["admin_a"])
    response = c.get("/", follow_redirects=True)
    assert response.status_code == 200
    assert "株式会社エー" in response.get_data(as_text=True)
    assert world["admin_a"].role == Role.ORG_ADMIN
