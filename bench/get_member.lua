-- GET /api/v1/members/{id} for ids drawn at random from $IDS_FILE.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do
    ids[#ids + 1] = line
end
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")

request = function()
    return wrk.format("GET", "/api/v1/members/" .. ids[math.random(#ids)])
end
