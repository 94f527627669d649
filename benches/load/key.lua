-- wrk script: the request as given on the command line, with the mock's default API key.
wrk.headers["x-api-key"] = os.getenv("API_KEY") or "sendmock-key"
