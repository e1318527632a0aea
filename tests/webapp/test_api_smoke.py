from __future__ import annotations


def test_inbound_then_list(client, auth):
    body = {
        "channel": "api",
        "contact": {"name": "Łukasz Wójcik", "email": "Lukasz.Wojcik@Budmax.pl", "phone": "601 234 567"},
        "message": {"external_id": "m-1", "subject": "Oferta", "text": "Proszę o ofertę"},
    }
    first = client.post("/api/v1/inbound", json=body, headers=auth)
    assert first.status_code == 201, first.json
    again = client.post("/api/v1/inbound", json=body, headers=auth)
    assert again.status_code == 200
    assert again.json["message_id"] == first.json["message_id"]
    listing = client.get("/api/v1/contacts", headers=auth).json
    assert [c["phones"] for c in listing["items"]] == [["+48601234567"]]
