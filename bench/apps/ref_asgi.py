"""Reference: a raw ASGI app answering /healthz (the ceiling for one uvicorn worker)."""

BODY = b'{"status":"ok"}'
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"15")],
}
NOT_FOUND = {"type": "http.response.start", "status": 404, "headers": []}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/healthz":
        await send(START)
        await send({"type": "http.response.body", "body": BODY})
    else:
        await send(NOT_FOUND)
        await send({"type": "http.response.body", "body": b""})
