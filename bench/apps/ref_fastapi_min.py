"""Reference: the minimal FastAPI app, one route returning the same JSON as /healthz."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
