-- POST /api/v1/proposals/{id}/submit with If-Match: one workflow step per request, each on
-- a draft not yet submitted ($DRAFTS_FILE, "id version" per line, drafts made for this
-- run of the benchmark): the warm-up (OFFSET > 0) takes the last quarter, the measured
-- run the rest, thread t taking every other draft from the t-th.
dofile(os.getenv("BENCH_DIR") .. "/threads.lua")
local drafts = {}
for line in io.lines(os.getenv("DRAFTS_FILE")) do
    local id, version = line:match("^(%S+) (%d+)$")
    drafts[#drafts + 1] = { id = id, etag = '"' .. version .. '"' }
end
local next_index = nil
local headers = { ["Authorization"] = "Bearer " .. os.getenv("TOKEN") }

request = function()
    if next_index == nil then
        next_index = tid
        if tonumber(os.getenv("OFFSET")) > 0 then
            next_index = math.floor(#drafts * 3 / 4) + tid
        end
    end
    local draft = drafts[next_index]
    next_index = next_index + 2
    headers["If-Match"] = draft.etag
    return wrk.format("POST", "/api/v1/proposals/" .. draft.id .. "/submit", headers)
end
