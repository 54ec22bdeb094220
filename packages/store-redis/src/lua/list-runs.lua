-- list-runs: one keyset page of an app's runs, newest first, through the narrowest index that
-- fits the filter (parent; job + states through the job's per-state sets once the app has them,
-- `B:sjidx`; job; node; states; or all runs). Reads only; bounded work per call.
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
-- Each state once (a state named twice would merge its set with itself, and list runs twice).
local states = nil
local state_list = {}
if f.states then
  states = {}
  for _, s in ipairs(f.states) do
    if not states[s] then
      states[s] = true
      state_list[#state_list + 1] = s
    end
  end
end
local keys = {}
-- With a job and states, the job's per-state sets hold the runs that match both, so every entry
-- examined is a match but for the other filters (time, handler, node, trigger). Only once the
-- app's sets are complete (`B:sjidx`, set by index-runs.lua or at the app's first id).
local by_job_state = false
if f.parentRunId then
  keys[1] = K('runs:parent:' .. f.parentRunId)
elseif f.jobKey and states and redis.call('EXISTS', K('sjidx')) == 1 then
  by_job_state = true
  for _, s in ipairs(state_list) do keys[#keys + 1] = sjkey(s, f.jobKey) end
elseif f.jobKey then
  keys[1] = K('runs:job:' .. f.jobKey)
elseif f.nodeId then
  keys[1] = K('runs:node:' .. f.nodeId)
elseif states then
  for _, s in ipairs(state_list) do keys[#keys + 1] = K('runs:state:' .. s) end
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

-- Through the per-state sets nearly every entry matches: a page needs about limit + 1 of them
-- (the one after the page says whether there are more).
local CHUNK = math.min(budget, by_job_state and limit + 1 or limit + 50)
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

-- The run hash (flat) of an examined entry when it matches the filter, else nil.
local examine
if by_job_state then
  -- A likely match: the whole hash at once, its checked fields picked out of the flat reply as
  -- it is (a table of every field would cost more than the checks). Its state is checked too,
  -- which costs nothing here: an entry whose run has left that state is never listed.
  local CHECKED = { state = true, createdAt = true, handler = true, ownerNode = true, trigger = true }
  examine = function(seq)
    local flat = redis.call('HGETALL', runkey(seq))
    local h = {}
    for i = 1, #flat, 2 do
      if CHECKED[flat[i]] then h[flat[i]] = flat[i + 1] end
    end
    if h.state == nil or not states[h.state] then return nil end
    if from or to then
      local c = tonumber(h.createdAt)
      if (from and c < from) or (to and c >= to) then return nil end
    end
    if f.handler and h.handler ~= f.handler then return nil end
    if f.nodeId and h.ownerNode ~= f.nodeId then return nil end
    if f.trigger and h.trigger ~= f.trigger then return nil end
    return flat
  end
else
  -- Mostly misses: the fields the filter checks first, the whole hash only for a match.
  examine = function(seq)
    local r = redis.call('HMGET', runkey(seq), unpack(fields))
    if r[1] == false then return nil end
    if states and not states[r[1]] then return nil end
    if created_at then
      local c = tonumber(r[created_at])
      if (from and c < from) or (to and c >= to) then return nil end
    end
    if handler_at and r[handler_at] ~= f.handler then return nil end
    if node_at and r[node_at] ~= f.nodeId then return nil end
    if trigger_at and r[trigger_at] ~= f.trigger then return nil end
    if job_at and r[job_at] ~= f.jobKey then return nil end
    if parent_at and r[parent_at] ~= f.parentRunId then return nil end
    return redis.call('HGETALL', runkey(seq))
  end
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
  local flat = examine(best)
  if flat then out[#out + 1] = flat end
end
-- cjson would write an empty table as {}
return { #out == 0 and '[]' or cjson.encode(out), position }
