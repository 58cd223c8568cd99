-- A fixed request (the URL given to wrk) with the admin key, asking for CSV.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Accept"] = "text/csv"
