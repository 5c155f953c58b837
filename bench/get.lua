-- wrk script: GET wrk.path as the signed-in sessions in SESSIONS (cookie
-- only), in turn, sending what browsers send; counts non-200 answers.
local sessions = {}
local counter = 0

function init(args)
  local path = os.getenv("SESSIONS")
  if path and path ~= "" then
    for line in io.lines(path) do
      local cookie = line:match("([^\t]+)\t")
      table.insert(sessions, cookie)
    end
  end
end

function request()
  counter = counter + 1
  local headers = {
    ["Host"] = wrk.headers["Host"],
    ["Accept"] = "text/html,application/xhtml+xml",
    ["Accept-Encoding"] = "gzip, deflate, br",
    ["Sec-Fetch-Site"] = "same-origin",
  }
  if #sessions > 0 then
    headers["Cookie"] = sessions[(counter % #sessions) + 1]
  end
  return wrk.format("GET", wrk.path, headers)
end

