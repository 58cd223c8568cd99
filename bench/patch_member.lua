-- PATCH /api/v1/members/{id} with If-Match of the member's current version: every request
-- changes a member not yet changed in this run, thread t taking lines OFFSET + t,
-- OFFSET + t + 2, ... of $VERSIONS_FILE ("id version" per line, read before the run, so
-- a database reused from an earlier run is patched at its own versions).
dofile(os.getenv("BENCH_DIR") .. "/threads.lua")
local members = {}
for line in io.lines(os.getenv("VERSIONS_FILE")) do
    local id, version = line:match("^(%S+) (%d+)$")
    members[#members + 1] = { id = id, etag = '"' .. version .. '"' }
end
local next_index = nil
local headers = {
    ["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
    ["Content-Type"] = "application/merge-patch+json",
}

request = function()
    if next_index == nil then
        next_index = tonumber(os.getenv("OFFSET")) + tid
    end
    local member = members[next_index]
    next_index = next_index + 2
    headers["If-Match"] = member.etag
    return wrk.format("PATCH", "/api/v1/members/" .. member.id, headers, '{"street":"新街口街道"}')
end
