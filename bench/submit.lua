-- wrk script: each request files a parking application with two documents
-- as a browser does (multipart, the session's cookie and CSRF token, a new
-- idempotency key), through one of the signed-in sessions in SESSIONS.
local sessions = {}
local boundary = "----dimosbench7MA4YWxkTrZu0gW"
local counter = 0

local function part(name, value)
  return "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. name ..
    "\"\r\n\r\n" .. value .. "\r\n"
end

local function file(name, filename, bytes)
  return "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. name ..
    "\"; filename=\"" .. filename .. "\"\r\nContent-Type: application/pdf\r\n\r\n" ..
    bytes .. "\r\n"
end

function init(args)
  local path = os.getenv("SESSIONS")
  for line in io.lines(path) do
    local cookie, csrf = line:match("([^\t]+)\t(.+)")
    table.insert(sessions, { cookie = cookie, csrf = csrf })
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

local function key()
  return string.format("%08x-%04x-4%03x-8%03x-%012x", math.random(0, 0xffffffff),
    math.random(0, 0xffff), math.random(0, 0xfff), math.random(0, 0xfff),
    math.random(0, 0xffffffffffff))
end

function request()
  counter = counter + 1
  local s = sessions[(counter % #sessions) + 1]
  local plate = string.format("ΙΚΥ-%04d", math.random(1000, 9999))
  local body = part("_csrf", s.csrf) .. part("_submission", key()) ..
    part("full_name", "Γιώργος Νικολάου") .. part("email", "giorgos@example.gr") ..
    part("mobile", "69 1234 5678") .. part("location", "Αριστοτέλους 53, Άλιμος") ..
    part("plate", plate) .. part("delivery", "pickup") ..
    file("doc-disability-certificate", "kepa.pdf", "%PDF-1.7\n% KEPA " .. plate .. "\n" .. string.rep("x", 20000)) ..
    file("doc-vehicle-registration", "adeia.pdf", "%PDF-1.7\n% adeia " .. plate .. "\n" .. string.rep("y", 20000)) ..
    "--" .. boundary .. "--\r\n"
  return wrk.format("POST", "/parking/apply", {
    ["Host"] = wrk.headers["Host"],
    ["Cookie"] = s.cookie,
    ["Content-Type"] = "multipart/form-data; boundary=" .. boundary,
    ["Origin"] = "http://" .. wrk.headers["Host"],
    ["Sec-Fetch-Site"] = "same-origin",
    ["Accept-Encoding"] = "gzip, deflate, br",
  }, body)
end

