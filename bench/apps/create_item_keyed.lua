-- POST /items with a new Idempotency-Key on every request: the first use of a key, which takes
-- the advisory lock, looks the key up and stores the answer in the same transaction.
wrk.method = "POST"
wrk.path = "/items"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name": "bench item", "description": "written by bench/run.py"}'

-- Unique across rounds too: each wrk run starts from its own random prefix.
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
local prefix = string.format("bench-%d-%d", os.time(), math.random(1, 1000000000))
local counter = 0

request = function()
    counter = counter + 1
    wrk.headers["Idempotency-Key"] = prefix .. "-" .. counter
    return wrk.format()
end
