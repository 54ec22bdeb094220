-- list-runs: one keyset page of an app's runs, newest first, through the narrowest index that
-- fits the filter (parent, job, node, states, or all runs). Reads only; bounded work per call.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  limit
-- ARGV[3]  highest seq to include, or '+inf' (lowered to the window's end when `to` is set)
-- ARGV[4]  filters as JSON: { parentRunId, jobKey, handler, nodeId, states = [..], trigger, from, to }
-- ARGV[5]  scan budget (index entries examined at most)
-- Returns: { runs, position }: runs is one JSON text, an array of the run hashes, each a flat
--          array [field, value, …] as HGETALL gives it (one bulk reply for the client to parse
--          instead of a bulk string per field); position is the seq of the last index entry
--          examined when the scan stopped early (page full or budget spent), else ''.
-- @include lib/common.lua

local limit = tonumber(ARGV[2])
local max = ARGV[3]
local f = cjson.decode(ARGV[4])
local budget = tonumber(ARGV[5])
local keys = {}
if f.parentRunId then
  keys[1] = K('runs:parent:' .. f.parentRunId)
elseif f.jobKey then
  keys[1] = K('runs:job:' .. f.jobKey)
elseif f.nodeId then
  keys[1] = K('runs:node:' .. f.nodeId)
elseif f.states then
  for _, s in ipairs(f.states) do keys[#keys + 1] = K('runs:state:' .. s) end
else
  keys[1] = K('runs')
end
local min = '-inf'
if f.from then min = n2s(tonumber(f.from) * 1000) end
-- A run created before `to` has an id below to × 1000 + the app's id drift (see next_seq): the
-- walk starts there rather than at the newest run.
if f.to then
  local drift = redis.call('GET', K('seqdrift'))
  if drift then
    local top = tonumber(f.to) * 1000 + tonumber(drift) - 1
    if max == '+inf' or tonumber(max) > top then max = n2s(top) end
  end
end
local states = nil
if f.states then
  states = {}
  for _, s in ipairs(f.states) do states[s] = true end
end
local from = f.from and tonumber(f.from)
local to = f.to and tonumber(f.to)

-- Each examined entry reads only the fields its filter checks (`state` always: a run hash that is
-- gone has none), not the seven of every filter: on a walk of thousands of entries this is most
-- of the script's time.
local fields = { 'state' }
local function need(name)
  fields[#fields + 1] = name
  return #fields
end
local created_at = (from or to) and need('createdAt')
local handler_at = f.handler and need('handler')
local node_at = f.nodeId and need('ownerNode')
local trigger_at = f.trigger and need('trigger')
local job_at = f.jobKey and need('jobKey')
local parent_at = f.parentRunId and need('parentRunId')

local CHUNK = math.min(budget, limit + 50)
local streams = {}
for _, k in ipairs(keys) do streams[#streams + 1] = { key = k, buf = {}, pos = 1, top = max, done = false } end
-- Every index scores its members by their seq (score = member), so each chunk starts just below
-- the last one (an exclusive bound, O(log n)) rather than at an offset from the top, which Redis
-- walks element by element: a walk of n entries costs n, not n² / CHUNK.
local function head(s)
  if s.pos > #s.buf then
    if s.done then return nil end
    s.buf = redis.call('ZREVRANGEBYSCORE', s.key, s.top, min, 'LIMIT', 0, CHUNK)
    s.pos = 1
    if #s.buf < CHUNK then s.done = true end
    if #s.buf == 0 then return nil end
    s.top = '(' .. s.buf[#s.buf]
  end
  return s.buf[s.pos]
end

local out = {}
local last = nil
local position = ''
while true do
  local best, bs = nil, nil
  for _, s in ipairs(streams) do
    local e = head(s)
    if e and (best == nil or tonumber(e) > tonumber(best)) then best, bs = e, s end
  end
  if not best then break end
  if budget <= 0 or #out >= limit then
    position = last
    break
  end
  bs.pos = bs.pos + 1
  budget = budget - 1
  last = best
  local r = redis.call('HMGET', runkey(best), unpack(fields))
  local ok = r[1] ~= false
  if ok and states and not states[r[1]] then ok = false end
  if ok and created_at then
    local c = tonumber(r[created_at])
    if from and c < from then ok = false end
    if to and c >= to then ok = false end
  end
  if ok and handler_at and r[handler_at] ~= f.handler then ok = false end
  if ok and node_at and r[node_at] ~= f.nodeId then ok = false end
  if ok and trigger_at and r[trigger_at] ~= f.trigger then ok = false end
  if ok and job_at and r[job_at] ~= f.jobKey then ok = false end
  if ok and parent_at and r[parent_at] ~= f.parentRunId then ok = false end
  if ok then out[#out + 1] = redis.call('HGETALL', runkey(best)) end
end
-- cjson would write an empty table as {}
return { #out == 0 and '[]' or cjson.encode(out), position }
