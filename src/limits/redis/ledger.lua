-- gatehouse: the reserve-then-settle rules of src/limits/book.rs, run atomically inside Redis. One script for
-- every operation, so one script is loaded; the differential test (tests/keys_redis.rs) runs random operation
-- sequences through this and through book.rs and asserts the same decisions.
--
-- A ledger (a key's or a team's) is five Redis keys, passed in KEYS in this order:
--   h      HASH   ps, pe (budget period start and end, -1: never ends), spent (nano-dollars this period),
--                 tok (settled tokens in the window), rt, rn (tokens and nano-dollars reserved by leases)
--   req    ZSET   admissions in the window: member lease id, score admission time (ms)
--   tok    ZSET   settled tokens in the window: member "<tokens>:<lease id>", score charge time (ms)
--   lease  HASH   leases in flight: lease id -> "<tokens> <nano-dollars>" reserved
--   exp    ZSET   the same leases: member lease id, score expiry (ms)
-- KEYS[1..5] is the key's ledger, KEYS[6..10] its team's when it has one.
--
-- ARGV[1] operation (admit, settle, renew, usage); ARGV[2] now in ms, 0 for Redis's own clock (TIME), so replicas
-- with skewed clocks agree; ARGV[3] how many ledgers (1 or 2). Then 10 values per ledger: rpm, tpm, max_parallel,
-- budget (nano-dollars; -1: no limit), and three candidate budget periods as start,end pairs (end -1: never),
-- computed by the caller around its own clock; the one holding `now` is used. Then the operation's values:
--   admit:  lease id, lease time to live (ms), tokens and nano-dollars to reserve
--   settle: lease id, tokens and nano-dollars used
--   renew:  lease id, lease time to live (ms)
--
-- Numbers are Lua doubles: exact for integers below 2^53 (9e15 nano-dollars is 9 million dollars). They are
-- written back with string.format('%.0f') because Redis would format a bare number with 17 significant digits in
-- exponent notation.

local WINDOW = 60000
local op = ARGV[1]
local now = tonumber(ARGV[2])
if now <= 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local count = tonumber(ARGV[3])
local FIELDS = 10
local tail = 3 + count * FIELDS

local function int(x)
  return string.format('%.0f', x)
end

local function tokens_of(member)
  return tonumber(string.sub(member, 1, string.find(member, ':', 1, true) - 1))
end

local function open(s)
  local k = (s - 1) * 5
  local a = 3 + (s - 1) * FIELDS
  local L = {
    h = KEYS[k + 1], req = KEYS[k + 2], tok = KEYS[k + 3], lease = KEYS[k + 4], exp = KEYS[k + 5],
    rpm = tonumber(ARGV[a + 1]), tpm = tonumber(ARGV[a + 2]), par = tonumber(ARGV[a + 3]),
    budget = tonumber(ARGV[a + 4]),
    spans = {
      { tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6]) },
      { tonumber(ARGV[a + 7]), tonumber(ARGV[a + 8]) },
      { tonumber(ARGV[a + 9]), tonumber(ARGV[a + 10]) },
    },
  }
  local f = redis.call('HMGET', L.h, 'ps', 'pe', 'spent', 'tok', 'rt', 'rn')
  L.ps = tonumber(f[1]) or 0
  L.pe = tonumber(f[2]) or -1
  L.spent = tonumber(f[3]) or 0
  L.settled = tonumber(f[4]) or 0
  L.rt = tonumber(f[5]) or 0
  L.rn = tonumber(f[6]) or 0
  return L
end

local function save(L)
  redis.call('HSET', L.h, 'ps', int(L.ps), 'pe', int(L.pe), 'spent', int(L.spent), 'tok', int(L.settled),
    'rt', int(L.rt), 'rn', int(L.rn))
end

-- book.rs Ledger::charge: tokens into the window at `at`, money into the period holding `at`.
local function charge(L, at, id, tokens, nanos)
  if tokens > 0 then
    redis.call('ZADD', L.tok, int(at), int(tokens) .. ':' .. id)
    L.settled = L.settled + tokens
  end
  if at >= L.ps and (L.pe < 0 or at < L.pe) then
    L.spent = L.spent + nanos
  end
end

-- Removes a lease; returns what it reserved, or nil when it is not held.
local function drop_lease(L, id)
  local held = redis.call('HGET', L.lease, id)
  if not held then
    return nil
  end
  redis.call('HDEL', L.lease, id)
  redis.call('ZREM', L.exp, id)
  local space = string.find(held, ' ', 1, true)
  local tokens = tonumber(string.sub(held, 1, space - 1))
  local nanos = tonumber(string.sub(held, space + 1))
  L.rt = L.rt - tokens
  L.rn = L.rn - nanos
  return tokens, nanos
end

-- book.rs Ledger::advance: the period moves on, lapsed leases are charged in full at their expiry, the window
-- slides.
local function advance(L)
  -- Every time (not only when the period ends), so a changed budget_period applies at once.
  local chosen = L.spans[2]
  for _, span in ipairs(L.spans) do
    if span[1] <= now and (span[2] < 0 or now < span[2]) then
      chosen = span
      break
    end
  end
  if chosen[1] ~= L.ps or chosen[2] ~= L.pe then
    if chosen[1] ~= L.ps then
      L.spent = 0
    end
    L.ps = chosen[1]
    L.pe = chosen[2]
  end
  local lapsed = redis.call('ZRANGEBYSCORE', L.exp, '-inf', int(now), 'WITHSCORES')
  for i = 1, #lapsed, 2 do
    local id = lapsed[i]
    local tokens, nanos = drop_lease(L, id)
    if tokens then
      charge(L, tonumber(lapsed[i + 1]), id, tokens, nanos)
    end
  end
  local edge = int(now - WINDOW)
  redis.call('ZREMRANGEBYSCORE', L.req, '-inf', edge)
  if L.settled > 0 then
    local old = redis.call('ZRANGEBYSCORE', L.tok, '-inf', edge)
    for _, member in ipairs(old) do
      L.settled = L.settled - tokens_of(member)
    end
    if #old > 0 then
      redis.call('ZREMRANGEBYSCORE', L.tok, '-inf', edge)
    end
  end
end

-- book.rs Ledger::check, in the same order: rpm, max_parallel, tpm, budget. Returns the refusal or nil.
local function check(L, want_tokens, want_nanos)
  if L.rpm >= 0 then
    local n = redis.call('ZCARD', L.req)
    if n >= L.rpm then
      local oldest = redis.call('ZRANGE', L.req, n - L.rpm, n - L.rpm, 'WITHSCORES')
      return { 1, L.rpm, math.max(0, tonumber(oldest[2]) + WINDOW - now) }
    end
  end
  if L.par >= 0 and redis.call('HLEN', L.lease) >= L.par then
    return { 2, L.par }
  end
  if L.tpm >= 0 then
    if want_tokens > L.tpm then
      return { 4, L.tpm, want_tokens }
    end
    local held = L.rt + want_tokens
    local settled = L.settled
    if held + settled > L.tpm then
      local retry = 1000
      if held <= L.tpm then
        local all = redis.call('ZRANGE', L.tok, 0, -1, 'WITHSCORES')
        for i = 1, #all, 2 do
          settled = settled - tokens_of(all[i])
          if held + settled <= L.tpm then
            retry = math.max(0, tonumber(all[i + 1]) + WINDOW - now)
            break
          end
        end
      end
      return { 3, L.tpm, retry }
    end
  end
  if L.budget >= 0 and L.spent + L.rn + want_nanos > L.budget then
    return { 5, L.spent, L.rn, L.budget, L.pe }
  end
  return nil
end

-- book.rs Ledger::headroom: rpm limit, remaining, reset; tpm limit, remaining, reset (-1: no such limit).
local function headroom(L, out)
  local values = { -1, 0, 0, -1, 0, 0 }
  if L.rpm >= 0 then
    local n = redis.call('ZCARD', L.req)
    local front = redis.call('ZRANGE', L.req, 0, 0, 'WITHSCORES')
    values[1] = L.rpm
    values[2] = math.max(0, L.rpm - n)
    values[3] = front[2] and tonumber(front[2]) + WINDOW or now
  end
  if L.tpm >= 0 then
    local front = redis.call('ZRANGE', L.tok, 0, 0, 'WITHSCORES')
    values[4] = L.tpm
    values[5] = math.max(0, L.tpm - (L.settled + L.rt))
    values[6] = front[2] and tonumber(front[2]) + WINDOW or now
  end
  for _, v in ipairs(values) do
    out[#out + 1] = v
  end
end

local ledgers = {}
for s = 1, count do
  ledgers[s] = open(s)
end

if op == 'admit' then
  local id = ARGV[tail + 1]
  local expires = now + tonumber(ARGV[tail + 2])
  local want_tokens, want_nanos = tonumber(ARGV[tail + 3]), tonumber(ARGV[tail + 4])
  for s = 1, count do
    local L = ledgers[s]
    advance(L)
    local refusal = check(L, want_tokens, want_nanos)
    if refusal then
      for r = 1, s do
        save(ledgers[r])
      end
      local out = { 0, now, s }
      for _, v in ipairs(refusal) do
        out[#out + 1] = v
      end
      return out
    end
  end
  local out = { 1, now }
  for s = 1, count do
    local L = ledgers[s]
    redis.call('ZADD', L.req, int(now), id)
    redis.call('HSET', L.lease, id, int(want_tokens) .. ' ' .. int(want_nanos))
    redis.call('ZADD', L.exp, int(expires), id)
    L.rt = L.rt + want_tokens
    L.rn = L.rn + want_nanos
    save(L)
    headroom(L, out)
  end
  return out
elseif op == 'settle' then
  local id = ARGV[tail + 1]
  local used_tokens, used_nanos = tonumber(ARGV[tail + 2]), tonumber(ARGV[tail + 3])
  local out = { now }
  for s = 1, count do
    local L = ledgers[s]
    advance(L)
    local found = 0
    if drop_lease(L, id) then
      charge(L, now, id, used_tokens, used_nanos)
      found = 1
    end
    save(L)
    out[#out + 1] = found
  end
  return out
elseif op == 'renew' then
  local id = ARGV[tail + 1]
  local expires = now + tonumber(ARGV[tail + 2])
  local out = { now }
  for s = 1, count do
    local L = ledgers[s]
    advance(L)
    local current = redis.call('ZSCORE', L.exp, id)
    local found = 0
    if current then
      if expires > tonumber(current) then
        redis.call('ZADD', L.exp, int(expires), id)
      end
      found = 1
    end
    save(L)
    out[#out + 1] = found
  end
  return out
elseif op == 'usage' then
  local L = ledgers[1]
  advance(L)
  save(L)
  return { now, redis.call('ZCARD', L.req), L.settled, redis.call('HLEN', L.lease), L.rt, L.rn, L.spent, L.pe }
end
return redis.error_reply('gatehouse ledger script: unknown operation ' .. tostring(op))
