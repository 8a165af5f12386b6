-- torchgate rate limit: GCRA (rate, burst) and calendar quotas, all or nothing.
--
-- KEYS[1]  GCRA key (TAT in Unix microseconds)
-- KEYS[2]  quota key prefix; a quota key is KEYS[2] .. window .. ':' .. id
--          (both keys carry the client's hash tag, so they share one slot)
-- ARGV     emission interval (µs), burst, cost, quota count n,
--          then n pairs: window ('minute'|'hour'|'day'|'month'), limit
--
-- Reply: {allowed (0|1), now (µs), tat (µs, stored value or nil as now),
--         used of each quota before this request ...}
-- The time is the Redis server's TIME, so replica clocks do not matter.

-- civil returns year, month, day of a day number (days since 1970-01-01);
-- H. Hinnant's civil_from_days.
local function civil(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

-- daynum is the inverse of civil (days_from_civil).
local function daynum(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- window returns the id and the end (Unix seconds) of the UTC window w
-- holding the Unix second sec.
local function window(w, sec)
  local day = math.floor(sec / 86400)
  local y, m, d = civil(day)
  if w == 'month' then
    local ny, nm = y, m + 1
    if nm == 13 then ny, nm = y + 1, 1 end
    return string.format('%04d%02d', y, m), daynum(ny, nm, 1) * 86400
  end
  local date = string.format('%04d%02d%02d', y, m, d)
  if w == 'day' then
    return date, (day + 1) * 86400
  end
  local rem = sec - day * 86400
  local h = math.floor(rem / 3600)
  if w == 'hour' then
    return date .. string.format('%02d', h), day * 86400 + (h + 1) * 3600
  end
  if w == 'minute' then
    local mi = math.floor((rem - h * 3600) / 60)
    return date .. string.format('%02d%02d', h, mi), sec - sec % 60 + 60
  end
  error('ratelimit: unknown window ' .. tostring(w))
end

local t = redis.call('TIME')
local sec = tonumber(t[1])
local now = sec * 1000000 + tonumber(t[2])
local emission = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local n = tonumber(ARGV[4])

local tat = tonumber(redis.call('GET', KEYS[1]) or now)
local newtat = math.max(tat, now) + cost * emission
local ok = cost <= burst and newtat - burst * emission <= now

local reply = {0, now, tat}
local keys, ends = {}, {}
for i = 1, n do
  local id, finish = window(ARGV[3 + 2 * i], sec)
  keys[i] = KEYS[2] .. ARGV[3 + 2 * i] .. ':' .. id
  ends[i] = finish
  local used = tonumber(redis.call('GET', keys[i]) or 0)
  reply[3 + i] = used
  if used + cost > tonumber(ARGV[4 + 2 * i]) then ok = false end
end

if ok then
  reply[1] = 1
  -- Numbers are formatted here: Lua's own conversion may use exponents.
  redis.call('SET', KEYS[1], string.format('%.0f', newtat),
    'PX', string.format('%.0f', math.ceil((newtat - now) / 1000)))
  for i = 1, n do
    if redis.call('INCRBY', keys[i], ARGV[3]) == cost then
      redis.call('EXPIREAT', keys[i], string.format('%.0f', ends[i] + 60))
    end
  end
end
return reply
