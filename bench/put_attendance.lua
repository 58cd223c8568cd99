-- PUT /api/v1/meetings/{id}/attendance/{member_id}: a recorded attendance, drawn at random
-- from $ATTENDANCE_FILE ("meeting member status" per line), recorded again in the same
-- status with a note of its own, so every request changes the record.
dofile(os.getenv("BENCH_DIR") .. "/threads.lua")
local entries = {}
for line in io.lines(os.getenv("ATTENDANCE_FILE")) do
    local meeting, member, status = line:match("^(%S+) (%S+) (%S+)$")
    entries[#entries + 1] = { meeting = meeting, member = member, status = status }
end
local run = os.getenv("RUN")
local counter = 0
local headers = {
    ["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
    ["Content-Type"] = "application/json",
}

request = function()
    counter = counter + 1
    local entry = entries[math.random(#entries)]
    local body = string.format('{"status":"%s","note":"%s-%d-%d"}', entry.status, run, tid, counter)
    return wrk.format("PUT", "/api/v1/meetings/" .. entry.meeting .. "/attendance/" .. entry.member,
        headers, body)
end
