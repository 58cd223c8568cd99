-- A fixed request (the URL given to wrk) with the admin key.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
