-- POST /api/v1/proposals/{id}/submit with If-Match: one workflow step per request, each on
-- a draft not yet submitted, thread t taking lines OFFSET + t, OFFSET + t + 2, ... of
-- $DRAFTS_FILE ("id version" per line, drafts made for this run of the benchmark).
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
        next_index = tonumber(os.getenv("OFFSET")) + tid
    end
    local draft = drafts[next_index]
    next_index = next_index + 2
    headers["If-Match"] = draft.etag
    return wrk.format("POST", "/api/v1/proposals/" .. draft.id .. "/submit", headers)
end
