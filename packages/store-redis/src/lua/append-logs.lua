-- append-logs: appends log lines to runs' lists, capped per run: the line that reaches the cap
-- is replaced by a warn line saying the log was truncated; later lines are dropped, as are
-- lines of unknown runs.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  cap (lines per run)
-- ARGV[3…] triples: run seq, the line's ts, the line as JSON text { level, message, fields, ts }
-- Returns: how many lines were stored, as a string.
-- @include lib/common.lua

local cap = tonumber(ARGV[2])
local stored = 0
local known = {}
for i = 3, #ARGV, 3 do
  local seq = ARGV[i]
  if known[seq] == nil then known[seq] = redis.call('EXISTS', runkey(seq)) == 1 end
  if known[seq] then
    local lk = B .. ':log:' .. seq
    local len = redis.call('LLEN', lk)
    if len < cap - 1 then
      redis.call('RPUSH', lk, ARGV[i + 2])
      stored = stored + 1
    elseif len == cap - 1 then
      local warn = cjson.encode({ level = 'warn', message = 'log truncated: a run keeps at most ' .. cap ..
        ' lines', fields = cjson.null, ts = tonumber(ARGV[i + 1]) })
      redis.call('RPUSH', lk, warn)
      stored = stored + 1
    end
  end
end
return tostring(stored)
