-- PATCH /api/v1/members/{id} with If-Match "1": every request changes a member not yet
-- changed, thread t taking ids OFFSET + t, OFFSET + t + 2, ... of $IDS_FILE (2 threads).
dofile(os.getenv("BENCH_DIR") .. "/threads.lua")
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do
    ids[#ids + 1] = line
end
local next_index = nil
wrk.method = "PATCH"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/merge-patch+json"
wrk.headers["If-Match"] = '"1"'

request = function()
    if next_index == nil then
        next_index = tonumber(os.getenv("OFFSET")) + tid
    end
    local id = ids[next_index]
    next_index = next_index + 2
    return wrk.format(nil, "/api/v1/members/" .. id, nil, '{"street":"新街口街道"}')
end
