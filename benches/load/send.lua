-- wrk script: validated sends of a one-recipient notification (AR or 890 in turn, one
-- document, a pagoPA notice). $SEND_TEMPLATE names a file whose one line is the request
-- body with PROTOCOL where the protocol number goes and COMMUNICATION_TYPE where the
-- letter's product goes (matrix.sh writes it after uploading the document); every
-- request gets a protocol number of its own.
local f = assert(io.open(os.getenv("SEND_TEMPLATE")), "SEND_TEMPLATE: the request body template")
local template = f:read("*l")
f:close()
local at = assert(template:find("PROTOCOL", 1, true), "the template has no PROTOCOL")
head = template:sub(1, at - 1)
local rest = template:sub(at + #"PROTOCOL")
assert(rest:find("COMMUNICATION_TYPE", 1, true), "the template has no COMMUNICATION_TYPE")
tails = {
  (rest:gsub("COMMUNICATION_TYPE", "AR_REGISTERED_LETTER", 1)),
  (rest:gsub("COMMUNICATION_TYPE", "REGISTERED_LETTER_890", 1)),
}
counter = 0
nthreads = 0
function setup(thread) thread:set("tid", nthreads); nthreads = nthreads + 1 end
function init(args) run = os.time() end
wrk.method = "POST"
wrk.headers["x-api-key"] = os.getenv("API_KEY") or "sendmock-key"
wrk.headers["content-type"] = "application/json"
function request()
  counter = counter + 1
  local body = head .. "LOAD-" .. run .. "-" .. tid .. "-" .. counter .. tails[counter % 2 + 1]
  return wrk.format(nil, "/delivery/v2.6/requests", nil, body)
end
