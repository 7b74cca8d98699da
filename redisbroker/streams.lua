-- streams: the state of streams; with ARGV[3] >= 0 also the newest entries
-- above that offset (of the one stream asked). Nothing is created but the
-- epoch (SET NX), so a connection that never gets a message costs no key.
-- KEYS[1] the epoch, then per stream i: KEYS[2i] its last offset,
--         KEYS[1+2i] its entries
-- ARGV[1] a new epoch, ARGV[2] age bound ms
-- ARGV[3] the offset to read above, or -1; ARGV[4] most entries to return
-- Returns the epoch, then per stream: offset, oldest offset held (0 for
-- none), then, when reading, the entries as XREVRANGE gives them.
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local out = {redis.call('GET', KEYS[1])}
local t = redis.call('TIME')
local minid = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) - tonumber(ARGV[2])
if minid < 0 then minid = 0 end
local after = tonumber(ARGV[3])
for i = 1, (#KEYS - 1) / 2 do
  local s = KEYS[1 + 2 * i]
  local top = tonumber(redis.call('GET', KEYS[2 * i]) or '0') or 0
  local oldest = 0
  local first = redis.call('XRANGE', s, minid, '+', 'COUNT', 1)
  if #first > 0 then
    local f = first[1][2]
    for j = 1, #f, 2 do
      if f[j] == 'o' then oldest = tonumber(f[j + 1]) end
    end
  end
  table.insert(out, tostring(top))
  table.insert(out, tostring(oldest))
  if after >= 0 then
    if top > after then
      table.insert(out, redis.call('XREVRANGE', s, '+', minid, 'COUNT', math.min(top - after, tonumber(ARGV[4]))))
    else
      table.insert(out, {})
    end
  end
end
return out
