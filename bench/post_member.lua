-- POST /api/v1/members: a new member per request, numbered by run, thread and counter,
-- each sent with an Idempotency-Key of its own (as a form that may be retried sends it).
dofile(os.getenv("BENCH_DIR") .. "/threads.lua")
local run = os.getenv("RUN")
local district = os.getenv("DISTRICT_ID")
local counter = 0
local headers = {
    ["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
    ["Content-Type"] = "application/json",
}

request = function()
    counter = counter + 1
    local member_no = string.format("P-%s-%d-%d", run, tid, counter)
    headers["Idempotency-Key"] = member_no
    local body = string.format(
        '{"district_id":"%s","member_no":"%s","name":"测试委员","sector":"economy","party":"cpc"}',
        district, member_no)
    return wrk.format("POST", "/api/v1/members", headers, body)
end
