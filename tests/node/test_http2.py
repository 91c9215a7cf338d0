"""HTTP/2 with prior knowledge (h2c), as HyperBEAM clients may use it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import h2.config
import h2.connection
import h2.events
import trio

if TYPE_CHECKING:
    from node._server import Running


async def test_h2c_prior_knowledge(node: Running) -> None:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream("127.0.0.1", node.port)
        async with stream:
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":authority", "x"),
                                    (":path", "/~message@1.0&hello=world/hello")], end_stream=True)
            await stream.send_all(conn.data_to_send())
            status, body, done = 0, b"", False
            while not done:
                data = await stream.receive_some(65536)
                assert data
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.ResponseReceived):
                        status = int(dict(event.headers)[b":status"])
                    elif isinstance(event, h2.events.DataReceived):
                        body += event.data
                        conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        done = True
                await stream.send_all(conn.data_to_send())
    assert (status, body) == (200, b"world")
