-- complete-runs: ends runs their node incarnations own, each exactly as if alone and in request
-- order: the outcome, its retry inserted in the same step, a `delay-after` job re-armed when no
-- retry follows. A refused request (unknown run, or not running and owned by that incarnation)
-- changes nothing and is reported in its place; the others still end. Index and stats writes
-- that no later request reads are gathered and written once for the batch.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2…] 9 per request: run seq, node id, incarnation, outcome (succeeded | failed | timed_out
--          | cancelled), result as JSON text, error as JSON text or '', duration ms, retry run
--          draft (JSON of strings) or '', reply form ('full' | 'changes')
-- Returns: one JSON text, an array with one entry per request: [ '1', run, retry run hash or
--          false ] (hashes as objects, field → value) or [ '0', 'NOTFOUND run …' | 'FENCED run …' ].
--          `run` is the whole hash afterwards for 'full'. For 'changes' (the caller holds the
--          hash as its claim returned it) it is what the caller cannot know: { state, finishedAt }
--          and the fields other steps may write while a run is running (reason and
--          cancelRequested by cancel-run and a `replace` insert, progress by heartbeat; any field
--          a new step writes on a running run must be added here). The caller applies those,
--          its own result, error and duration, and drops leaseExpiresAt. Publishes 'runs' once (a retry, or runs
--          of an ended run's job still waiting) and 'jobs' once (a re-armed delay-after job).
-- @include lib/common.lua
-- @include lib/runs.lua

local out = {}
local acc = stats_acc()
local incarnation_of = {}
local ended = {}        -- seqs that left `running`
local ended_as = {}     -- final state -> { score, seq, … }
local ended_states = {} -- final states in first-seen order
local finished = {}     -- { NOW, seq, … }
local job_ended = {}    -- job key -> { running = { seq, … }, as = final state -> { seq, seq, … }, states = { … } }
local job_list = {}     -- job keys in first-seen order
local by_owner = {}     -- owner node -> { seq, … }
local owners = {}
local pub_runs, pub_jobs = false, false
local nowstr = n2s(NOW)

local VOLATILE = { 'reason', 'cancelRequested', 'progress' }

for i = 2, #ARGV, 9 do
  local seq, node, inc, outcome = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local full = ARGV[i + 8] == 'full'
  local rk = runkey(seq)
  local h
  if full then
    h = fields_of(redis.call('HGETALL', rk))
  else
    local r = redis.call('HMGET', rk, 'state', 'ownerNode', 'ownerIncarnation', 'jobKey', unpack(VOLATILE))
    h = { state = r[1], ownerNode = r[2], ownerIncarnation = r[3], jobKey = r[4] }
    for j, name in ipairs(VOLATILE) do h[name] = r[4 + j] or nil end
  end
  local current = incarnation_of[node]
  if current == nil then
    current = redis.call('HGET', nodekey(node), 'incarnation') or false
    incarnation_of[node] = current
  end
  if not h.state then
    out[#out + 1] = { '0', 'NOTFOUND run ' .. runid(seq) }
  elseif h.state ~= 'running' or h.ownerNode ~= node or h.ownerIncarnation ~= inc or current ~= inc then
    out[#out + 1] = { '0', 'FENCED run ' .. runid(seq) .. ' is ' .. h.state .. ' and not owned by ' .. node ..
      ' incarnation ' .. inc }
  else
    local job_key = h.jobKey
    local retry_draft = ARGV[i + 7]
    local state = outcome
    if outcome == 'failed' and retry_draft == '' then state = 'dead' end
    local duration = tonumber(ARGV[i + 6])
    -- What later requests of the batch read (the run's hash, its job's activity) is written now.
    if job_key then
      job_running_add(job_key, -1)
      redis.call('SREM', K('jobactive:' .. job_key), seq)
    end
    redis.call('HDEL', rk, 'leaseExpiresAt')
    local set = { 'state', state, 'finishedAt', nowstr, 'result', ARGV[i + 4], 'durationMs', n2s(duration) }
    if ARGV[i + 5] ~= '' then
      set[#set + 1] = 'error'
      set[#set + 1] = ARGV[i + 5]
    end
    redis.call('HSET', rk, unpack(set))
    -- Indexes nothing below reads: gathered for the batch.
    ended[#ended + 1] = seq
    local list = ended_as[state]
    if not list then
      list = {}
      ended_as[state] = list
      ended_states[#ended_states + 1] = state
    end
    list[#list + 1] = seq
    list[#list + 1] = seq
    if job_key then
      local je = job_ended[job_key]
      if not je then
        je = { running = {}, as = {}, states = {} }
        job_ended[job_key] = je
        job_list[#job_list + 1] = job_key
      end
      je.running[#je.running + 1] = seq
      local jl = je.as[state]
      if not jl then
        jl = {}
        je.as[state] = jl
        je.states[#je.states + 1] = state
      end
      jl[#jl + 1] = seq
      jl[#jl + 1] = seq
    end
    finished[#finished + 1] = nowstr
    finished[#finished + 1] = seq
    local mine = by_owner[node]
    if not mine then
      mine = {}
      by_owner[node] = mine
      owners[#owners + 1] = node
    end
    mine[#mine + 1] = seq
    stats_count(acc, job_key, state, duration)
    local retry = false
    if retry_draft ~= '' then
      local rseq = insert_run(cjson.decode(retry_draft))
      retry = fields_of(redis.call('HGETALL', runkey(rseq)))
      pub_runs = true
    else
      if rearm_delay_after(job_key) then pub_jobs = true end
      -- A run of the same job may have waited for this one (serial): wake the other nodes.
      if job_key and redis.call('SCARD', K('jobactive:' .. job_key)) > 0 then pub_runs = true end
    end
    -- Nothing after the HSET above writes this run's hash (it left its job's active set first).
    if full then
      h.leaseExpiresAt = nil
      for j = 1, #set, 2 do h[set[j]] = set[j + 1] end
      out[#out + 1] = { '1', h, retry }
    else
      local changes = { state = state, finishedAt = nowstr }
      for _, name in ipairs(VOLATILE) do
        if h[name] then changes[name] = h[name] end
      end
      out[#out + 1] = { '1', changes, retry }
    end
  end
end

if #ended > 0 then
  redis.call('ZREM', K('leases'), unpack(ended))
  redis.call('ZREM', K('runs:state:running'), unpack(ended))
  for _, state in ipairs(ended_states) do redis.call('ZADD', K('runs:state:' .. state), unpack(ended_as[state])) end
  for _, job_key in ipairs(job_list) do
    local je = job_ended[job_key]
    redis.call('ZREM', sjkey('running', job_key), unpack(je.running))
    for _, state in ipairs(je.states) do redis.call('ZADD', sjkey(state, job_key), unpack(je.as[state])) end
  end
  redis.call('ZADD', K('finished'), unpack(finished))
  for _, owner in ipairs(owners) do
    local nk = K('nrun:' .. owner)
    redis.call('SREM', nk, unpack(by_owner[owner]))
    if redis.call('SCARD', nk) == 0 then redis.call('SREM', K('nrun-owners'), owner) end
  end
  stats_flush(acc)
end
if pub_runs then publish('runs') end
if pub_jobs then publish('jobs') end
if #out == 0 then return '[]' end
return cjson.encode(out)
