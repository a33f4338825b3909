-- gatehouse: the reserve-then-settle rules of src/limits/book.rs, run atomically inside Redis. One script for
-- every operation, so one script is loaded; the differential test (tests/keys_redis.rs) runs random operation
-- sequences through this and through book.rs and asserts the same decisions.
--
-- Written to be cheap where Redis spends its time: inside a script each Redis call, each number formatted or parsed
-- and each argument costs about as much as the logic. So a ledger's numbers travel as one binary string
-- (`struct.pack` of doubles, exact for integers below 2^53: 9e15 nano-dollars is 9 million dollars), a hot
-- admission is TIME, one HMGET and one HSET per ledger, a settlement (of several leases of the same key at once)
-- TIME, HMGET, HDEL and HSET, and the windows' lists are touched about once per millisecond, not once per request.
--
-- A ledger (a key's or a team's) is three Redis keys, passed in KEYS in this order:
--   h    HASH   s: the ledger's numbers, 20 doubles (see `open`; a ledger written before standbys has 17, read
--               with the last three 0); "l:<lease id>": a lease in flight, 3 doubles (tokens and nano-dollars
--               reserved, expiry in ms), or 4 for a standby not yet taken (the fourth is 1)
--   rq   LIST   closed buckets of admissions, oldest first: 2 doubles (time ms, count)
--   tk   LIST   closed buckets of settled tokens, oldest first: 2 doubles (time ms, tokens)
-- A window (admissions, tokens) is its list followed by its open bucket, the one still filling, kept in `s`; when
-- the list is not empty neither is the open bucket. No lease expires before `lx` (kept in `s`): only when `now`
-- passes it are the leases read (HGETALL) to find the lapsed ones, about once per lease lifetime.
-- KEYS holds ledgers one after another: for settle, renew and usage the key's, then its team's when it has one;
-- for admit every ledger its admissions name (a batch of admissions of several keys and teams).
--
-- ARGV[1] operation (admit, settle, renew, usage); ARGV[2] now in ms, 0 for Redis's own clock (TIME), so replicas
-- with skewed clocks agree. Then one value per ledger, 10 doubles: rpm, tpm, max_parallel, budget (nano-dollars;
-- -1: no limit), and three candidate budget periods as start,end pairs (end -1: never), computed by the caller
-- around its own clock; the one holding `now` is used. Then the operation's values:
--   admit:  how many settlements ride along, then each (the key's ledger: its number in KEYS order, 1-based; its
--           team's, 0: none; lease id, tokens and nano-dollars used, step); then any number of admissions (the
--           key's ledger, its team's, lease id, lease time to live (ms), tokens and nano-dollars to reserve, kind:
--           0 a request, 1 a standby); the reply is one answer per admission, each preceded by its length, all as
--           one string of little-endian doubles
--   settle: any number of (lease id, tokens used, nano-dollars used, step)
--   renew:  lease id, lease time to live (ms)
--   A settlement's step: 0 the request ended (its reservation is replaced by what it used), 1 a standby was taken
--   by a request (its reservation becomes the request's estimate, given as "used"), 2 a standby not taken is given
--   back (nothing is charged).
--
-- A standby is a lease granted ahead of a request, for a replica's worker thread to admit its next request of the
-- key without waiting on Redis (src/limits/redis/standby.rs). It is granted only while the key and its team use
-- less than half of each limit, and never with max_parallel. Until it is taken it holds its reservation and counts
-- as one request (`sb`) in every rpm check; when taken, it enters the admission window at that time (later than
-- the request's own admission: never an under-count). A lapsed standby (its replica died) is charged in full.
--
-- The first layout (one sorted-set member per request, numbers as hash fields) is replaced when a ledger is first
-- touched: the budget's spend carries over, the minute windows and the reservations in flight start afresh.

local WINDOW = 60000
local CHUNK = 128
local STATE = '<dddddddddddddddddddd'
local FIRST_STATE = '<ddddddddddddddddd'
local STANDBY = '<dddd'
local PAIR = '<dd'
local LEASE = '<ddd'
local op = ARGV[1]
local now = tonumber(ARGV[2])
if now <= 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local count = #KEYS / 3
local tail = 2 + count

-- Opens ledger `s`, reading also the hash fields in `extra` (their values in L.extra). L.gone: the leases this
-- run removed.
local function open(s, extra)
  local k = (s - 1) * 3
  local L = { h = KEYS[k + 1], gone = {} }
  local s1, e1, s2, e2, s3, e3
  L.rpm, L.tpm, L.par, L.budget, s1, e1, s2, e2, s3, e3 = struct.unpack('<dddddddddd', ARGV[2 + s])
  L.spans = { { s1, e1 }, { s2, e2 }, { s3, e3 } }
  local q = { key = KEYS[k + 2] }
  local w = { key = KEYS[k + 3] }
  L.req, L.tok = q, w
  L.added, L.changed = {}, {}
  local f
  if extra then
    f = redis.call('HMGET', L.h, 's', 'ps', unpack(extra))
  else
    f = redis.call('HMGET', L.h, 's', 'ps')
  end
  if f[1] then
    L.ps, L.pe, L.spent, q.sum, q.front, q.t, q.n, q.len, w.sum, w.front, w.t, w.n, w.len, L.rt, L.rn, L.nl, L.lx =
      struct.unpack(FIRST_STATE, f[1])
    -- Standbys outstanding: their count, tokens and nano-dollars (a ledger written before them has none).
    L.sb, L.st, L.sn = 0, 0, 0
    if #f[1] >= 160 then
      L.sb, L.st, L.sn = struct.unpack('<ddd', f[1], 137)
    end
  else
    L.ps, L.pe, L.spent = 0, -1, 0
    q.sum, q.front, q.t, q.n, q.len = 0, 0, 0, 0, 0
    w.sum, w.front, w.t, w.n, w.len = 0, 0, 0, 0, 0
    L.rt, L.rn, L.nl, L.lx = 0, 0, 0, 0
    L.sb, L.st, L.sn = 0, 0, 0
    if f[2] then
      -- A ledger of the first layout: its spend stays (a new period, chosen in `advance`, still resets it).
      local old = redis.call('HMGET', L.h, 'ps', 'pe', 'spent')
      L.ps, L.pe, L.spent = tonumber(old[1]), tonumber(old[2]), tonumber(old[3])
      redis.call('DEL', L.h .. ':req', L.h .. ':tok', L.h .. ':lease', L.h .. ':exp')
      redis.call('HDEL', L.h, 'ps', 'pe', 'spent', 'tok', 'rt', 'rn')
    end
  end
  L.extra = {}
  for i = 3, #f do
    L.extra[i - 2] = f[i]
  end
  return L
end

-- Writes the ledger's numbers, the leases added (L.added: field, value, ...) and the standbys taken and still
-- held (L.changed: lease id -> value).
local function save(L)
  local q, w = L.req, L.tok
  local added = L.added
  for id, value in pairs(L.changed) do
    if not L.gone[id] then
      added[#added + 1] = 'l:' .. id
      added[#added + 1] = value
    end
  end
  redis.call('HSET', L.h, 's', struct.pack(STATE, L.ps, L.pe, L.spent, q.sum, q.front, q.t, q.n, q.len, w.sum,
    w.front, w.t, w.n, w.len, L.rt, L.rn, L.nl, L.lx, L.sb, L.st, L.sn), unpack(added))
end

local function empty(W)
  return W.n == 0
end

-- Calls visit(time, amount) on the window's buckets, oldest first, until it returns true.
local function each_bucket(W, visit)
  local from = 0
  while from < W.len do
    local got = redis.call('LRANGE', W.key, from, from + CHUNK - 1)
    for _, entry in ipairs(got) do
      local t, n = struct.unpack(PAIR, entry)
      if visit(t, n) then
        return
      end
    end
    from = from + CHUNK
  end
  if W.n > 0 then
    visit(W.t, W.n)
  end
end

-- Appends `amount` at `at` after every bucket (book.rs Ledger::admit): into the open bucket when it has that time.
local function append(W, at, amount)
  if W.n > 0 and W.t == at then
    W.n = W.n + amount
  else
    if W.n > 0 then
      redis.call('RPUSH', W.key, struct.pack(PAIR, W.t, W.n))
      W.len = W.len + 1
    else
      W.front = at
    end
    W.t = at
    W.n = amount
  end
  W.sum = W.sum + amount
end

-- Adds `amount` at `at` keeping the buckets in time order (book.rs Ledger::charge). Only a lapsed lease, charged
-- at its expiry, lands before the open bucket: walk back through the list to its place.
local function insert(W, at, amount)
  if empty(W) or at >= W.t then
    append(W, at, amount)
    return
  end
  W.sum = W.sum + amount
  local last = W.len - 1
  while last >= 0 do
    local first = math.max(0, last - CHUNK + 1)
    local got = redis.call('LRANGE', W.key, first, last)
    for i = #got, 1, -1 do
      local t, n = struct.unpack(PAIR, got[i])
      if t == at then
        redis.call('LSET', W.key, first + i - 1, struct.pack(PAIR, t, n + amount))
        return
      elseif t < at then
        redis.call('LINSERT', W.key, 'AFTER', got[i], struct.pack(PAIR, at, amount))
        W.len = W.len + 1
        return
      end
    end
    last = first - 1
  end
  redis.call('LPUSH', W.key, struct.pack(PAIR, at, amount))
  W.len = W.len + 1
  W.front = at
end

-- Drops the buckets that left the window, oldest first, stopping at the first still inside (book.rs
-- Ledger::advance).
local function age(W)
  -- Usually a bucket or two leave at a time: read a few, more when they all left.
  local reads = 4
  while not empty(W) and W.front + WINDOW <= now do
    if W.len == 0 then
      W.sum = W.sum - W.n
      W.t, W.n, W.front = 0, 0, 0
      return
    end
    local got = redis.call('LRANGE', W.key, 0, reads - 1)
    reads = math.min(reads * 4, CHUNK * 4)
    local gone = 0
    local next_front = nil
    for _, entry in ipairs(got) do
      local t, n = struct.unpack(PAIR, entry)
      if t + WINDOW > now then
        next_front = t
        break
      end
      gone = gone + 1
      W.sum = W.sum - n
    end
    if gone > 0 then
      redis.call('LTRIM', W.key, gone, -1)
      W.len = W.len - gone
    end
    if next_front then
      W.front = next_front
      return
    end
    if W.len == 0 then
      W.front = W.t
    end
  end
end

-- book.rs Ledger::charge: tokens into the window at `at`, money into the period holding `at`.
local function charge(L, at, tokens, nanos)
  if tokens > 0 then
    insert(L.tok, at, tokens)
  end
  if at >= L.ps and (L.pe < 0 or at < L.pe) then
    L.spent = L.spent + nanos
  end
end

local function reservation(held)
  local tokens, nanos, expires = struct.unpack(LEASE, held)
  return tokens, nanos, expires
end

-- Whether a lease's value is a standby's not yet taken.
local function is_standby(held)
  return #held == 32
end

-- A standby leaves the standbys: taken by a request (whose admission enters the window at `at`), lapsed (at its
-- expiry: it may have been taken), or given back (`at` nil: never taken).
-- (Never below 0: a replica of the version before standbys, in a rolling upgrade, writes the ledger without them.)
local function unstandby(L, tokens, nanos, at)
  L.sb = math.max(0, L.sb - 1)
  L.st = math.max(0, L.st - tokens)
  L.sn = math.max(0, L.sn - nanos)
  if at then
    insert(L.req, at, 1)
  end
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
  if L.nl > 0 and L.lx <= now then
    local all = redis.call('HGETALL', L.h)
    local fields = {}
    L.lx = 0
    L.nl = 0
    for i = 1, #all, 2 do
      local field = all[i]
      if string.sub(field, 1, 2) == 'l:' then
        local tokens, nanos, expires = reservation(all[i + 1])
        L.nl = L.nl + 1
        if expires <= now then
          if is_standby(all[i + 1]) then
            unstandby(L, tokens, nanos, expires)
          end
          fields[#fields + 1] = field
          L.gone[string.sub(field, 3)] = true
          L.nl = L.nl - 1
          L.rt = L.rt - tokens
          L.rn = L.rn - nanos
          charge(L, expires, tokens, nanos)
        elseif L.lx == 0 or expires < L.lx then
          L.lx = expires
        end
      end
    end
    if #fields > 0 then
      redis.call('HDEL', L.h, unpack(fields))
    end
  end
  age(L.req)
  age(L.tok)
end

-- book.rs Ledger::check, in the same order: rpm, max_parallel, tpm, budget. Returns the refusal or nil.
local function check(L, want_tokens, want_nanos)
  if L.rpm >= 0 and L.req.sum + L.sb >= L.rpm then
    -- The admission that has to leave the window first: the (n - rpm)-th, oldest first. When standbys alone
    -- fill the limit, one is taken or given back within a second.
    local skip = L.req.sum + L.sb - L.rpm
    if skip >= L.req.sum then
      return { 1, L.rpm, 1000 }
    end
    local at = L.req.t
    each_bucket(L.req, function(t, n)
      if skip < n then
        at = t
        return true
      end
      skip = skip - n
    end)
    return { 1, L.rpm, math.max(0, at + WINDOW - now) }
  end
  if L.par >= 0 and L.nl >= L.par then
    return { 2, L.par }
  end
  if L.tpm >= 0 then
    if want_tokens > L.tpm then
      return { 4, L.tpm, want_tokens }
    end
    local held = L.rt + want_tokens
    local settled = L.tok.sum
    if held + settled > L.tpm then
      local retry = 1000
      if held <= L.tpm then
        each_bucket(L.tok, function(t, n)
          settled = settled - n
          if held + settled <= L.tpm then
            retry = math.max(0, t + WINDOW - now)
            return true
          end
        end)
      end
      return { 3, L.tpm, retry }
    end
  end
  if L.budget >= 0 and L.spent + L.rn + want_nanos > L.budget then
    return { 5, L.spent, L.rn, L.budget, L.pe }
  end
  return nil
end

-- book.rs Ledger::headroom: rpm limit, remaining, reset; tpm limit, remaining, reset (-1: no such limit), written
-- into out[n + 1 .. n + 6].
local function headroom(L, out, n)
  out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5], out[n + 6] = -1, 0, 0, -1, 0, 0
  if L.rpm >= 0 then
    out[n + 1] = L.rpm
    out[n + 2] = math.max(0, L.rpm - L.req.sum - L.sb)
    out[n + 3] = empty(L.req) and now or L.req.front + WINDOW
  end
  if L.tpm >= 0 then
    out[n + 4] = L.tpm
    out[n + 5] = math.max(0, L.tpm - (L.tok.sum + L.rt))
    out[n + 6] = empty(L.tok) and now or L.tok.front + WINDOW
  end
end

-- Whether ledger L leaves room for a standby reserving `tokens` and `nanos`: less than half of each limit used
-- with it, and no max_parallel.
local function roomy(L, tokens, nanos)
  return (L.rpm < 0 or (L.req.sum + L.sb + 1) * 2 <= L.rpm) and L.par < 0
    and (L.tpm < 0 or (L.tok.sum + L.rt + tokens) * 2 <= L.tpm)
    and (L.budget < 0 or (L.spent + L.rn + nanos) * 2 <= L.budget)
end

-- book.rs Ledger::settle (the ledger advanced), for step 0: replaces lease `id`'s reservation, `held` (its hash
-- value, nil when it is not held), by what was used, charged now; a standby not yet taken is taken first. Step 1
-- takes a standby (its reservation becomes `tokens` and `nanos`, the request's estimate); step 2 gives one back.
-- A field to delete goes in `dropped`. True when the lease was held.
local function settle_lease(L, id, held, tokens, nanos, dropped, step)
  held = L.changed[id] or held
  if not held or L.gone[id] then
    return false
  end
  local reserved_tokens, reserved_nanos, expires = reservation(held)
  local standby = is_standby(held)
  if step == 1 then
    if standby then
      unstandby(L, reserved_tokens, reserved_nanos, now)
      L.rt = L.rt - reserved_tokens + tokens
      L.rn = L.rn - reserved_nanos + nanos
      L.changed[id] = struct.pack(LEASE, tokens, nanos, expires)
    end
    return true
  end
  if step == 2 and not standby then
    return true
  end
  L.gone[id] = true
  L.rt = L.rt - reserved_tokens
  L.rn = L.rn - reserved_nanos
  L.nl = L.nl - 1
  if step == 2 then
    unstandby(L, reserved_tokens, reserved_nanos, nil)
  else
    if standby then
      unstandby(L, reserved_tokens, reserved_nanos, now)
    end
    charge(L, now, tokens, nanos)
  end
  dropped[#dropped + 1] = 'l:' .. id
  return true
end

if op == 'admit' then
  -- First the settlements that ride along (of requests that ended), then the admissions, in order, each as if
  -- alone: the ones before it are already recorded.
  local settles = tonumber(ARGV[tail + 1])
  local first_admission = tail + 2 + 6 * settles
  local reads = {}
  for s = 1, count do
    reads[s] = {}
  end
  for a = tail + 2, first_admission - 1, 6 do
    for k = a, a + 1 do
      local s = tonumber(ARGV[k])
      if s > 0 then
        reads[s][#reads[s] + 1] = 'l:' .. ARGV[a + 2]
      end
    end
  end
  local ledgers = {}
  for s = 1, count do
    local L = open(s, #reads[s] > 0 and reads[s] or nil)
    advance(L)
    L.dropped, L.held = {}, {}
    for i, field in ipairs(reads[s]) do
      L.held[field] = L.extra[i]
    end
    ledgers[s] = L
  end
  for a = tail + 2, first_admission - 1, 6 do
    local id = ARGV[a + 2]
    local tokens, nanos, step = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
    for k = a, a + 1 do
      local s = tonumber(ARGV[k])
      if s > 0 then
        local L = ledgers[s]
        settle_lease(L, id, L.held['l:' .. id], tokens, nanos, L.dropped, step)
      end
    end
  end
  local out = {}
  local n = 0
  for a = first_admission, #ARGV, 7 do
    local key = ledgers[tonumber(ARGV[a])]
    local team = tonumber(ARGV[a + 1])
    team = team > 0 and ledgers[team] or nil
    local want_tokens, want_nanos = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
    local standby = ARGV[a + 6] == '1'
    -- Each answer is preceded by its length: its slot is filled once the answer is written.
    local slot = n + 1
    out[slot] = 0
    local refusal = check(key, want_tokens, want_nanos)
    local who = 1
    if not refusal and team then
      refusal = check(team, want_tokens, want_nanos)
      who = 2
    end
    if standby and not refusal and not (roomy(key, want_tokens, want_nanos)
        and (not team or roomy(team, want_tokens, want_nanos))) then
      -- Declined: the next request asks Redis.
      refusal = { 6 }
    end
    if refusal then
      out[n + 2], out[n + 3], out[n + 4] = 0, now, who
      n = n + 4
      for _, v in ipairs(refusal) do
        n = n + 1
        out[n] = v
      end
    else
      out[n + 2], out[n + 3] = 1, now
      n = n + 3
      local expires = now + tonumber(ARGV[a + 3])
      local field = 'l:' .. ARGV[a + 2]
      local held
      if standby then
        held = struct.pack(STANDBY, want_tokens, want_nanos, expires, 1)
      else
        held = struct.pack(LEASE, want_tokens, want_nanos, expires)
      end
      for _, L in ipairs(team and { key, team } or { key }) do
        if L.nl == 0 or expires < L.lx then
          L.lx = expires
        end
        L.nl = L.nl + 1
        if standby then
          L.sb = L.sb + 1
          L.st = L.st + want_tokens
          L.sn = L.sn + want_nanos
        else
          append(L.req, now, 1)
        end
        L.rt = L.rt + want_tokens
        L.rn = L.rn + want_nanos
        local added = L.added
        added[#added + 1] = field
        added[#added + 1] = held
        headroom(L, out, n)
        n = n + 6
      end
    end
    out[slot] = n - slot
  end
  for s = 1, count do
    local L = ledgers[s]
    if #L.dropped > 0 then
      redis.call('HDEL', L.h, unpack(L.dropped))
    end
    save(L)
  end
  -- One string of doubles rather than an array of integers: converting each number into a reply (and the
  -- client parsing each back) cost more than the admission itself.
  return struct.pack('<' .. string.rep('d', n), unpack(out, 1, n))
elseif op == 'settle' then
  local ids, fields = {}, {}
  for i = tail + 1, #ARGV, 4 do
    ids[#ids + 1] = ARGV[i]
    fields[#fields + 1] = 'l:' .. ARGV[i]
  end
  local out = { now }
  for s = 1, count do
    local L = open(s, fields)
    advance(L)
    local gone = {}
    for i, id in ipairs(ids) do
      local a = tail + 4 * (i - 1)
      local found =
        settle_lease(L, id, L.extra[i], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), gone, tonumber(ARGV[a + 4]))
      out[#out + 1] = found and 1 or 0
    end
    if #gone > 0 then
      redis.call('HDEL', L.h, unpack(gone))
    end
    save(L)
  end
  return out
elseif op == 'renew' then
  local id = ARGV[tail + 1]
  local expires = now + tonumber(ARGV[tail + 2])
  local field = 'l:' .. id
  local out = { now }
  for s = 1, count do
    local L = open(s, { field })
    advance(L)
    local held = L.extra[1]
    local found = 0
    if held and not L.gone[id] then
      local tokens, nanos, current = reservation(held)
      found = 1
      if expires > current then
        -- A standby keeps its mark.
        L.added = { field, struct.pack(LEASE, tokens, nanos, expires) .. string.sub(held, 25) }
      end
    end
    save(L)
    out[#out + 1] = found
  end
  return out
elseif op == 'usage' then
  local L = open(1)
  advance(L)
  save(L)
  -- Standbys not yet taken are no request's: they are left out.
  return { now, L.req.sum, L.tok.sum, L.nl - L.sb, L.rt - L.st, L.rn - L.sn, L.spent, L.pe }
end
return redis.error_reply('gatehouse ledger script: unknown operation ' .. tostring(op))
