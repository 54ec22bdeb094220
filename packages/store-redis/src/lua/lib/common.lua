-- Shared helpers (keys, store time, ids), inlined at the top of every script by
-- scripts/embed-lua.mjs.
--
-- Every script is called with KEYS[1] = the app's base key `{<prefix>:<app>}` and
-- ARGV[1] = a clock offset in ms (0 in production; tests use it to move store time forward).
-- Every other key a script touches is built from KEYS[1], so it carries the same hash tag and
-- lives in the same Cluster slot: the keys of runs, jobs and nodes are found inside the script
-- (from indexes), so they cannot all be declared up front.

local B = KEYS[1]
local APP = string.match(B, '^{[^:]*:(.*)}$') or ''
local OFFSET = tonumber(ARGV[1]) or 0
local T = redis.call('TIME')
-- Store time in microseconds (for ids) and milliseconds (for every record).
local NOW_US = tonumber(T[1]) * 1000000 + tonumber(T[2]) + OFFSET * 1000
local NOW = math.floor(NOW_US / 1000)

local function n2s(x) return string.format('%d', x) end
local function raise(msg) error({ err = msg }) end
local function K(suffix) return B .. ':' .. suffix end
local function runkey(seq) return B .. ':run:' .. seq end
local function jobkey(key) return B .. ':job:' .. key end
local function nodekey(id) return B .. ':node:' .. id end
local function runid(seq) return seq .. ':' .. APP end
-- Queue of pending runs of one handler, target ('' for any node) and priority: score dueAt,
-- member the run's seq (all seqs have the same width, so ties order oldest first).
local function qkey(h, t, p) return B .. ':q:' .. #h .. ':' .. h .. ':' .. #t .. ':' .. t .. ':' .. p end
-- The priorities that have a queue for one handler and target: score and member the priority.
local function qpkey(h, t) return B .. ':qp:' .. #h .. ':' .. h .. ':' .. #t .. ':' .. t end
-- The runs of one job currently in one state (score = member = seq), kept by every step that
-- changes a run's state or deletes a run, next to `B:runs:state:<state>`; runs without a job are
-- in none. The state comes first: states never hold ':', job keys may. Listings trust these
-- sets only once `B:sjidx` exists (the app's sets are complete: see index-runs.lua).
local function sjkey(state, job_key) return B .. ':runs:sj:' .. state .. ':' .. job_key end

-- `B:seqdrift` bounds how far an id may run ahead of the clock: every id given so far is below
-- its creation time in µs + this (ids run ahead in a burst of more than one per µs, or when the
-- clock steps back). It only grows, in steps of 1 s, so it is rarely written; a listing by time
-- window starts its walk at the window's end + this. Missing on data written before it existed:
-- listings then walk from the newest id, as they did.
local DRIFT_STEP = 1000000
local seq_drift = nil

-- A new id: strictly rising per app and never below the store's clock in microseconds, so ids
-- of different apps order by creation time too.
local function next_seq()
  local last = tonumber(redis.call('GET', K('seq')) or '0')
  local s = last + 1
  if NOW_US > s then s = NOW_US end
  local str = n2s(s)
  redis.call('SET', K('seq'), str)
  if seq_drift == nil then
    local stored = redis.call('GET', K('seqdrift'))
    if stored then
      seq_drift = tonumber(stored)
    elseif last == 0 then
      -- A new app: start the bound now (an app with ids and no bound keeps walking from the newest).
      seq_drift = DRIFT_STEP
      redis.call('SET', K('seqdrift'), n2s(seq_drift))
      -- Nor has it a run to index: its per-(state, job) sets are complete from the start.
      redis.call('SET', K('sjidx'), '1')
    else
      seq_drift = false
    end
  end
  if seq_drift and s - NOW_US >= seq_drift then
    seq_drift = s - NOW_US + DRIFT_STEP
    redis.call('SET', K('seqdrift'), n2s(seq_drift))
  end
  return str
end

-- The app's membership version (`HeartbeatResult.membershipVersion`): bumped by every step that
-- changes the set of nodes or their states other than plain heartbeats.
local function bump_membership()
  redis.call('INCR', K('members'))
end

-- A hash read with HGETALL (a flat list) as a table of field -> value.
local function fields_of(flat)
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end

local function publish(kind)
  redis.call('PUBLISH', K('events'), kind)
end
