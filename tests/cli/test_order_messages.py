"""What ``pizzabus order`` says when orders do not complete: where each one stopped and where to
look, a 404 or 403 as what it is, and "is serve running?" only when nothing answered."""

from __future__ import annotations

import httpx

from pizzabus.cli.order import Tracked, _failure_report, _refusal

URL = "http://127.0.0.1:8123/"


def _answer(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("POST", URL))


def test_a_404_says_the_server_there_serves_no_such_route() -> None:
    message = _refusal(_answer(404, {"message": "Not Found"}))
    assert "has no POST route (404)" in message
    assert "--url" in message
    assert "serve" not in message.split("(404)")[0]


def test_a_403_says_it_was_refused_and_what_to_check() -> None:
    message = _refusal(_answer(403, {"message": "Missing Authentication Token"}))
    assert "refused the order (403 Forbidden): Missing Authentication Token" in message


def test_a_400_gives_the_servers_reason() -> None:
    message = _refusal(_answer(400, {"message": "The body has no 'item'"}))
    assert message == "the order was refused (400): The body has no 'item'"


def test_a_timeout_names_the_stage_each_order_stopped_at_and_where_to_look() -> None:
    stuck = Tracked("11111111-aaaa", "margherita", started=0.0)
    stuck.seen = {"make_pizza": 0.05}
    stuck.error = "not delivered within 5 s"
    never = Tracked("22222222-bbbb", "diavola", started=0.0, error="not delivered within 5 s")
    report = _failure_report([stuck, never], URL)
    assert "1 stopped after make_pizza (cook_pizza never reported): 11111111-aaaa" in report
    assert "1 no stage reported (make_pizza never ran): 22222222-bbbb" in report
    assert "pizzabus faults show" in report
    assert "pizzabus dlq list" in report
    assert "pizzabus trace 11111111-aaaa" in report
    assert "Is `pizzabus serve` running" not in report  # it is: it answered


def test_a_refusal_is_reported_without_asking_whether_serve_runs() -> None:
    refused = Tracked("33333333", "marinara", error="the order was refused (400): bad body")
    report = _failure_report([refused], URL)
    assert "the order was refused (400): bad body" in report
    assert "Is `pizzabus serve` running" not in report


def test_only_an_unreachable_server_asks_whether_serve_runs_there() -> None:
    lost = Tracked("44444444", "marinara", error="cannot reach the server: refused")
    lost.unreachable = True
    report = _failure_report([lost], URL)
    assert f"Is `pizzabus serve` running at {URL}?" in report
