-- POST /api/v1/sync/members: 1,000 new members per request.
dofile(os.getenv("BENCH_DIR") .. "/threads.lua")
local run = os.getenv("RUN")
local counter = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/json"

request = function()
    counter = counter + 1
    local records = {}
    for i = 1, 1000 do
        records[i] = string.format(
            '{"member_no":"S-%s-%d-%d-%d","name":"同步委员","sector":"economy","party":"cpc"}',
            run, tid, counter, i)
    end
    local body = '{"records":[' .. table.concat(records, ",") .. ']}'
    return wrk.format(nil, "/api/v1/sync/members?district_id=" .. os.getenv("DISTRICT_ID"), nil, body)
end
