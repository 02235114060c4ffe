-- get-by-id over every seeded row in turn: BENCH_ROWS ids, 1..N (set by bench/run.py).
local rows = tonumber(os.getenv("BENCH_ROWS") or "1000")
local counter = 0

request = function()
  counter = counter % rows + 1
  return wrk.format("GET", "/items/" .. counter)
end
