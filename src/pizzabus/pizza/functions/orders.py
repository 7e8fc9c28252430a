"""An order's timeline and its connections, and the push that keeps every socket in step.

Each connection item remembers ``sent``: how many stages that socket has received. A push sends
the stages after ``sent`` that the timeline holds without a gap, in order, then moves ``sent``
on. Concurrent pushes (two stage events, or a stage and a ``sync``) must not interleave on one
socket, so a push first takes a short lease on the connection item (a conditional put on its
``version``). A push that finds the lease taken leaves the work to the holder, who looks at the
timeline again after letting go: the timeline was written before the lease was looked at, so no
stage is left behind. This gives each socket its stages once, in stage order, catch-up first.

That trust holds only if a holder always lets go. A holder whose post or table call fails
releases the lease (recording what it did post) before it fails the invocation, retrying the
release for a few seconds if the table is unreachable (PostgreSQL restarting). If it cannot,
the lease names its holder (the event's id), so the bus's retry of the same event takes the
lease over at once instead of leaving the stages to a holder that is gone.

Written against the DynamoDB API only (conditional puts, query), so it runs on AWS unchanged.
"""

import json
import time
import uuid
from typing import Any

from botocore.exceptions import ClientError

#: A DynamoDB item, and a boto3 ``Table`` or management client (untyped on Lambda).
Item = dict[str, Any]

STAGES = ("make_pizza", "cook_pizza", "deliver_pizza", "delivered")
LEASE_SECONDS = 15
#: A push holds a lease for milliseconds; one held longer may belong to a push that died.
HOLDER_GRACE_SECONDS = 3
#: How long a holder keeps trying to write its release while the table is unreachable, before
#: it fails the invocation and leaves the lease to its retry: long enough for a database
#: restart, well inside receive_events' 10 s timeout and the lease's 15 s.
LET_GO_SECONDS = 5
TTL_SECONDS = 24 * 3600
#: A connection this young may still be in its $connect (API Gateway answers 410 until the
#: handshake completes): a 410 then means "not yet", not "gone".
CONNECT_GRACE_SECONDS = 10


class LeaseHeld(Exception):
    """Another push has held a connection's lease for long; retry this one later."""


def remember_connection(table: Any, order_id: str, connection_id: str) -> None:
    now = int(time.time())
    table.put_item(
        Item={
            "order_id": order_id,
            "connection_id": connection_id,
            "sent": 0,
            "version": 0,
            "connected_at": now,
            "expires_at": now + TTL_SECONDS,
        }
    )


def forget_connection(table: Any, connection_id: str) -> None:
    for item in _connection_items(table, connection_id):
        table.delete_item(Key={"order_id": item["order_id"], "connection_id": connection_id})


def order_of_connection(table: Any, connection_id: str) -> str | None:
    items = _connection_items(table, connection_id)
    return str(items[0]["order_id"]) if items else None


class NotCaughtUp(Exception):
    """A new connection has not received every stage yet (its socket is still opening, or
    another push holds its lease): raised so that the bus delivers the ``connected`` event
    again."""


def connected_detail(order_id: str, connection_id: str) -> dict[str, Any]:
    """The detail of the event ``$connect`` puts on the bus to have the connection caught up."""
    return {
        "item": {"order_id": order_id, "eventtype": "connected"},
        "connection_id": connection_id,
    }


def is_connected_event(detail: dict[str, Any]) -> bool:
    return bool(detail.get("item", {}).get("eventtype") == "connected")


def catch_up(
    connections: Any,
    timeline: Any,
    management: Any,
    detail: dict[str, Any],
    holder: str | None = None,
) -> None:
    """Send a new connection the stages it missed; raise NotCaughtUp until it has them all.

    The push itself is the one every stage event makes (lease, post, release), so a stage
    arriving at the same time is still sent once and in order. What this adds is the check
    afterwards: the connection must hold every stage the timeline has without a gap, or be
    gone (closed, or never opened past the grace period). Otherwise the bus retries.
    """
    order_id = detail["item"]["order_id"]
    done = len(_contiguous_after(_timeline_items(timeline, order_id), 0))
    if not done:
        return  # the usual case, a socket opened before its order: nothing missed yet
    key = {"order_id": order_id, "connection_id": detail["connection_id"]}
    _push_connection(connections, timeline, management, _reload(connections, key), holder)
    connection = _reload(connections, key)
    if connection is None:
        return  # closed before it caught up: nothing to send to
    if int(connection["sent"]) < done:
        raise NotCaughtUp(
            f"connection {key['connection_id']} has {connection['sent']} of the {done} stages "
            "of its order; it is still opening, or another push is sending them"
        )


def record_stage(timeline: Any, detail: dict[str, Any]) -> str:
    """Add a stage to the timeline, once: a redelivered event changes nothing. Returns the
    order id."""
    item = detail["item"]
    order_id = str(item["order_id"])
    seq = STAGES.index(item["eventtype"]) + 1
    try:
        timeline.put_item(
            Item={
                "order_id": order_id,
                "seq": seq,
                "eventtype": item["eventtype"],
                "detail": json.dumps(detail),
                "at": int(time.time() * 1000),
                "expires_at": int(time.time()) + TTL_SECONDS,
            },
            ConditionExpression="attribute_not_exists(seq)",
        )
    except ClientError as err:
        if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    return order_id


def timeline_of(timeline: Any, order_id: str) -> list[dict[str, Any]]:
    """The details of the order's stages so far, in stage order."""
    return [json.loads(item["detail"]) for item in _timeline_items(timeline, order_id)]


def push_pending(
    connections: Any, timeline: Any, management: Any, order_id: str, holder: str | None = None
) -> None:
    """Send every connection of the order the stages it has not received yet.

    ``holder`` names this push across retries (the bus event's id): a lease left by an
    earlier attempt of the same event is taken over, not waited for. None for a push nobody
    retries (a socket's ``sync``)."""
    for connection in _query_all(
        connections,
        KeyConditionExpression="order_id = :o",
        ExpressionAttributeValues={":o": order_id},
    ):
        _push_connection(connections, timeline, management, connection, holder)


def _push_connection(
    connections: Any, timeline: Any, management: Any, connection: Item | None, holder: str | None
) -> None:
    while connection is not None:  # None: gone
        if _leave_to_holder(connection, holder):
            return
        sent = int(connection["sent"])
        pending = _contiguous_after(_timeline_items(timeline, connection["order_id"]), sent)
        if not pending:
            return
        lease = _leased(connection, holder)
        posted = 0
        try:
            if not _put_if_version(connections, lease, int(connection["version"])):
                connection = _reload(connections, connection)
                continue
            for item in pending:
                outcome = _post(connections, management, lease, item)
                if outcome == "gone":
                    return  # and forgotten: nothing left to let go of
                if outcome == "connecting":
                    break
                posted += 1
        except Exception:
            # A holder always lets go, or the pushes that left their stages to it lose them.
            # (If the lease was never written, the release's condition fails: nothing to do.)
            _let_go(connections, lease, sent + posted)
            raise
        # A released item is exactly what was written (a leased item is only ever deleted),
        # so the next look at the timeline needs no read of it.
        connection = _let_go(connections, lease, sent + posted)
        if posted < len(pending):
            return  # still connecting: its `connected` event (retried) will send the rest


def _leave_to_holder(connection: Item, holder: str | None) -> bool:
    """Whether another push holds the connection's lease and will look again after it."""
    lease_until = int(connection.get("lease_until", 0))
    if lease_until <= time.time():
        return False
    if holder is not None and connection.get("holder") == holder:
        # An earlier attempt of this very push took it and failed (or its process died):
        # nobody else will look again, so this attempt takes the lease over.
        return False
    if time.time() - (lease_until - LEASE_SECONDS) > HOLDER_GRACE_SECONDS:
        # Held for long: its holder may have died mid-push (a worker killed). Fail, so the
        # bus retries this push until the lease runs out and it can take over.
        raise LeaseHeld(
            f"connection {connection['connection_id']} has been leased for more than "
            f"{HOLDER_GRACE_SECONDS} s; retrying once its lease ends"
        )
    return True  # another push holds the lease and will look again after it


def _contiguous_after(items: list[Item], sent: int) -> list[Item]:
    pending: list[Item] = []
    for item in items:
        seq = int(item["seq"])
        if seq <= sent:
            continue
        if seq != sent + len(pending) + 1:
            break  # a gap: the missing stage's own push will send it and what follows
        pending.append(item)
    return pending


def _leased(connection: Item, holder: str | None) -> Item:
    # ``lease`` tells this lease from another push's taken at the same version (after this
    # push's own take failed unanswered): only the lease's taker may release it.
    leased = dict(
        connection,
        version=int(connection["version"]) + 1,
        lease_until=int(time.time()) + LEASE_SECONDS,
        lease=uuid.uuid4().hex,
    )
    if holder is None:
        leased.pop("holder", None)
    else:
        leased["holder"] = holder
    return leased


def _put_if_version(connections: Any, item: Item, version: int, lease: str | None = None) -> bool:
    """Write ``item`` if the stored one still has ``version`` (and ``lease``, when given);
    False if it has not (or is gone)."""
    condition = "#version = :v"
    names = {"#version": "version"}
    values: dict[str, Any] = {":v": version}
    if lease is not None:
        condition += " AND #lease = :lease"
        names["#lease"] = "lease"
        values[":lease"] = lease
    try:
        connections.put_item(
            Item=item,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _let_go(connections: Any, lease: Item, sent: int) -> Item | None:
    """Release the lease, recording ``sent``; the released item, or None if the lease is no
    longer this push's (the connection was deleted, which only $disconnect does to a leased
    item, or a retry of this push took it over). An unreachable table is tried again for up to
    LET_GO_SECONDS, then its error is raised with the lease still held."""
    released = {k: v for k, v in lease.items() if k not in ("lease", "lease_until", "holder")}
    released.update(sent=sent, version=int(lease["version"]) + 1)
    give_up_at = time.time() + LET_GO_SECONDS
    pause = 0.05
    unsure = False  # whether a failed try may have been written, its answer lost
    while True:
        try:
            if _put_if_version(connections, released, int(lease["version"]), lease["lease"]):
                return released
            if unsure:
                stored = _reload(connections, released)
                if stored is not None and _same_release(stored, released):
                    return released  # that earlier try was written after all
            return None
        except ClientError:
            if time.time() + pause > give_up_at:
                raise
            unsure = True
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def _same_release(stored: Item, released: Item) -> bool:
    # Only this release writes this version unleased: a takeover writes it leased.
    return int(stored["version"]) == int(released["version"]) and "lease_until" not in stored


def _post(connections: Any, management: Any, connection: Item, item: Item) -> str:
    """Post one stage: ``posted``; ``connecting`` if the socket is not open yet; ``gone`` if it
    is gone for good (and so was removed)."""
    try:
        management.post_to_connection(
            Data=item["detail"].encode(), ConnectionId=connection["connection_id"]
        )
    except ClientError as err:
        if err.response["Error"]["Code"] != "GoneException":
            raise
        if time.time() - int(connection.get("connected_at", 0)) < CONNECT_GRACE_SECONDS:
            return "connecting"
        connections.delete_item(Key=_key(connection))
        return "gone"
    return "posted"


def _reload(connections: Any, connection: Item) -> Item | None:
    item: Item | None = connections.get_item(Key=_key(connection), ConsistentRead=True).get("Item")
    return item


def _key(connection: Item) -> Item:
    return {"order_id": connection["order_id"], "connection_id": connection["connection_id"]}


def _timeline_items(timeline: Any, order_id: str) -> list[Item]:
    return _query_all(
        timeline,
        KeyConditionExpression="order_id = :o",
        ExpressionAttributeValues={":o": order_id},
        ConsistentRead=True,
    )


def _connection_items(table: Any, connection_id: str) -> list[Item]:
    return _query_all(
        table,
        IndexName="by_connection",
        KeyConditionExpression="connection_id = :c",
        ExpressionAttributeValues={":c": connection_id},
    )


def _query_all(table: Any, **kwargs: Any) -> list[Item]:
    items: list[Item] = []
    while True:
        page = table.query(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
