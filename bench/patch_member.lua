-- PATCH /api/v1/members/{id} with If-Match of the member's current version. The members
-- of $VERSIONS_FILE ("id version" per line, read before the run) are split in two: the
-- warm-up (OFFSET > 0) changes the second half, the measured run the first, thread t
-- taking every other member from the t-th; a thread that reaches the end of its half
-- starts it again, with the versions its answers gave. Each request sets a street of its
-- own: a change that changes nothing writes nothing.
dofile(os.getenv("BENCH_DIR") .. "/threads.lua")
local members = {}
for line in io.lines(os.getenv("VERSIONS_FILE")) do
    local id, version = line:match("^(%S+) (%d+)$")
    members[#members + 1] = { id = id, etag = '"' .. version .. '"' }
end
local by_id = {}
for _, member in ipairs(members) do
    by_id[member.id] = member
end
local half = math.floor(#members / 2)
local first, last = 1, half
if tonumber(os.getenv("OFFSET")) > 0 then
    first, last = half + 1, #members
end
local next_index = nil
local run = os.getenv("RUN")
local counter = 0
local headers = {
    ["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
    ["Content-Type"] = "application/merge-patch+json",
}

request = function()
    if next_index == nil or next_index > last then
        next_index = first + tid - 1
    end
    local member = members[next_index]
    next_index = next_index + 2
    headers["If-Match"] = member.etag
    -- A street of its own, so that every request changes the member.
    counter = counter + 1
    local body = string.format('{"street":"街道%s-%d-%d"}', run, tid, counter)
    return wrk.format("PATCH", "/api/v1/members/" .. member.id, headers, body)
end

response = function(status, headers, body)
    local id = body:match('"id":"([^"]+)"')
    local member = id and by_id[id]
    local etag = headers["etag"] or headers["ETag"]
    if member and etag then
        member.etag = etag
    end
end
