-- wrk script: POST /calls with a realistic 20-turn transcript and a unique call_identifier.
-- Body and token come from files written by ingest.sh (BENCH_BODY, BENCH_TOKEN env vars).
local counter = 0
local thread_id = 0
local body_template, token

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function init(args)
  local f = io.open(os.getenv("BENCH_BODY"), "r"); body_template = f:read("*a"); f:close()
  token = os.getenv("BENCH_TOKEN")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  counter = counter + 1
  local id = string.format("bench-%s-%d-%d", os.getenv("BENCH_RUN"), tid, counter)
  return wrk.format(nil, nil, nil, (body_template:gsub("__CALL_ID__", id)))
end
