-- POST /items: one new row per request through the request's session (BEGIN, INSERT, the
-- refresh's SELECT, COMMIT).
wrk.method = "POST"
wrk.path = "/items"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name": "bench item", "description": "written by bench/run.py"}'
