-- torchgate rate limit: GCRA (rate, burst) and calendar quotas, all or nothing.
--
-- KEYS[1]  GCRA key (TAT in Unix microseconds)
-- KEYS[2]  quota key prefix; a quota key is KEYS[2] .. window .. ':' .. id
--          (both keys carry the client's hash tag, so they share one slot)
-- ARGV     increment (µs): cost × emission interval, or more than the
--          tolerance when the cost exceeds the burst (it never fits);
--          tolerance (µs): burst × emission interval; cost;
--          then a pair per quota: window ('minute'|'hour'|'day'|'month'),
--          room (limit - cost: the most the window may have used before)
--
-- Reply: {allowed (0|1), now (µs), tat (µs, stored value or nil as now),
--         used of each quota before this request ...}
-- The time is the Redis server's TIME, so replica clocks do not matter.
--
-- The script runs on every request, so it is written for Redis's cost:
-- numbers become strings with '%d' (a C long: exact, no exponent, no float
-- formatting), the arguments need no more conversions than the decision
-- does, and the date is computed once per call, only for tiers with quotas.

-- Strings become numbers by arithmetic (s + 0): Lua 5.1's tonumber parses
-- its argument twice.
local t = redis.call('TIME')
local sec = t[1] + 0
local now = sec * 1000000 + t[2]

local tat = redis.call('GET', KEYS[1])
tat = tat and tat + 0 or now
local newtat = (tat > now and tat or now) + ARGV[1]
local ok = newtat - ARGV[2] <= now

local reply = {0, now, tat}
local n = (#ARGV - 3) / 2
local keys, day, y, m, d
if n > 0 then
  -- The UTC date of sec: H. Hinnant's civil_from_days, with a - a % b
  -- for floor (all values are >= 0), which costs less than math.floor.
  local rem = sec % 86400
  day = (sec - rem) / 86400
  local z = day + 719468
  local doe = z % 146097
  local era = (z - doe) / 146097
  local yoe = doe - (doe - doe % 1460) / 1460 + (doe - doe % 36524) / 36524
    - (doe - doe % 146096) / 146096
  yoe = (yoe - yoe % 365) / 365
  local doy = doe - 365 * yoe - (yoe - yoe % 4) / 4 + (yoe - yoe % 100) / 100
  local mp = 5 * doy + 2
  mp = (mp - mp % 153) / 153
  d = 153 * mp + 2
  d = doy - (d - d % 5) / 5 + 1
  m = mp < 10 and mp + 3 or mp - 9
  y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  local h = (rem - rem % 3600) / 3600
  local mi = (rem % 3600 - rem % 60) / 60
  -- YYYYMMDDhhmm; the other window ids are its prefixes.
  local id = string.format('%d', ((y * 100 + m) * 100 + d) * 10000 + h * 100 + mi)
  local prefix, sub = KEYS[2], string.sub
  keys = {}
  for i = 1, n do
    local w = ARGV[2 + 2 * i]
    local key
    if w == 'day' then key = prefix .. 'day:' .. sub(id, 1, -5)
    elseif w == 'hour' then key = prefix .. 'hour:' .. sub(id, 1, -3)
    elseif w == 'minute' then key = prefix .. 'minute:' .. id
    elseif w == 'month' then key = prefix .. 'month:' .. sub(id, 1, -7)
    else error('ratelimit: unknown window ' .. tostring(w)) end
    keys[i] = key
    local used = redis.call('GET', key)
    used = used and used + 0 or 0
    reply[3 + i] = used
    if ok and used > ARGV[3 + 2 * i] + 0 then ok = false end
  end
end

if ok then
  reply[1] = 1
  redis.call('SET', KEYS[1], string.format('%d', newtat),
    'PX', string.format('%d', math.ceil((newtat - now) / 1000)))
  for i = 1, n do
    redis.call('INCRBY', keys[i], ARGV[3])
    -- Used 0 before means INCRBY returned the cost: the key's first
    -- increment, which sets its expiry, the window's end + 60 s.
    if reply[3 + i] == 0 then
      local w, finish = ARGV[2 + 2 * i]
      if w == 'minute' then finish = sec - sec % 60 + 60
      elseif w == 'hour' then finish = sec - sec % 3600 + 3600
      elseif w == 'day' then finish = (day + 1) * 86400
      else -- month: ends on the first of the next month
        local len = 30 + (m + (m - m % 8) / 8) % 2 -- 31: Jan Mar May Jul Aug Oct Dec
        if m == 2 then
          len = (y % 4 == 0 and y % 100 ~= 0 or y % 400 == 0) and 29 or 28
        end
        finish = (day - d + 1 + len) * 86400
      end
      redis.call('EXPIREAT', keys[i], string.format('%d', finish + 60))
    end
  end
end
return reply
