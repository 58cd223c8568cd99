-- Numbers wrk's threads 1, 2, ... so each can write keys no other thread writes.
local count = 0
function setup(thread)
    count = count + 1
    thread:set("tid", count)
end
