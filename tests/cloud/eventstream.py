"""The AWS event-stream binary framing (application/vnd.amazon.eventstream), encoded here from the format itself,
independent of the code under test. The checks decode with botocore's EventStreamBuffer (a second implementation),
so a frame that passes both is a real frame.

Frame: total length (u32 BE), headers length (u32 BE), CRC32 of those 8 bytes, headers, payload, CRC32 of everything
before it. A header: name length (u8), name, value type (u8; 7 = string), value length (u16 BE), value.
"""

import base64
import json
import struct
import zlib

STRING = 7


def _headers(pairs):
    out = b""
    for name, value in pairs:
        name_b, value_b = name.encode(), value.encode()
        out += struct.pack(">B", len(name_b)) + name_b + struct.pack(">BH", STRING, len(value_b)) + value_b
    return out


def frame(headers, payload):
    """One complete frame with the given (name, string value) headers and payload bytes."""
    head = _headers(headers)
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + head + payload
    return body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def chunk(event, padding="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"):
    """A `chunk` event carrying one Anthropic stream event, as Bedrock sends it (with its `p` padding field)."""
    data = json.dumps(event, separators=(",", ":")).encode()
    payload = json.dumps({"bytes": base64.b64encode(data).decode(), "p": padding[: 1 + len(data) % len(padding)]})
    return frame([(":event-type", "chunk"), (":content-type", "application/json"), (":message-type", "event")],
                 payload.encode())


def exception(kind, message):
    """An exception frame (`:message-type: exception`), as Bedrock sends one inside a 200 stream."""
    payload = json.dumps({"message": message}).encode()
    return frame([(":exception-type", kind), (":content-type", "application/json"), (":message-type", "exception")],
                 payload)


def decode_all(data):
    """Decodes a complete byte string into [(headers dict, payload bytes)], checking both CRCs; raises ValueError."""
    frames, at = [], 0
    while at < len(data):
        if len(data) - at < 16:
            raise ValueError(f"truncated frame at {at}")
        total, head_len, prelude_crc = struct.unpack(">III", data[at:at + 12])
        if zlib.crc32(data[at:at + 8]) & 0xFFFFFFFF != prelude_crc:
            raise ValueError(f"prelude CRC mismatch at {at}")
        end = at + total
        if end > len(data):
            raise ValueError(f"truncated frame at {at}")
        (message_crc,) = struct.unpack(">I", data[end - 4:end])
        if zlib.crc32(data[at:end - 4]) & 0xFFFFFFFF != message_crc:
            raise ValueError(f"message CRC mismatch at {at}")
        headers, pos = {}, at + 12
        while pos < at + 12 + head_len:
            n = data[pos]
            name = data[pos + 1:pos + 1 + n].decode()
            pos += 1 + n
            kind = data[pos]
            if kind != STRING:
                raise ValueError(f"header {name}: type {kind} not handled by this test decoder")
            (length,) = struct.unpack(">H", data[pos + 1:pos + 3])
            headers[name] = data[pos + 3:pos + 3 + length].decode()
            pos += 3 + length
        frames.append((headers, data[at + 12 + head_len:end - 4]))
        at = end
    return frames


def anthropic_events(data):
    """The Anthropic events carried by a complete Bedrock stream, plus exception frames as
    {"type": "exception", "exception_type": …, "message": …}."""
    out = []
    for headers, payload in decode_all(data):
        if headers.get(":message-type") == "event" and headers.get(":event-type") == "chunk":
            out.append(json.loads(base64.b64decode(json.loads(payload)["bytes"])))
        elif headers.get(":message-type") == "exception":
            out.append({"type": "exception", "exception_type": headers.get(":exception-type"),
                        "message": json.loads(payload).get("message")})
    return out
