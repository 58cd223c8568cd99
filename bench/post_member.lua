-- POST /api/v1/members: a new member per request, numbered by run, thread and counter.
dofile(os.getenv("BENCH_DIR") .. "/threads.lua")
local run = os.getenv("RUN")
local district = os.getenv("DISTRICT_ID")
local counter = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/json"

request = function()
    counter = counter + 1
    local body = string.format(
        '{"district_id":"%s","member_no":"P-%s-%d-%d","name":"测试委员","sector":"economy","party":"cpc"}',
        district, run, tid, counter)
    return wrk.format(nil, "/api/v1/members", nil, body)
end
