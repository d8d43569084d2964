-- :InfillStats: the server's local acceptance statistics (`infill/stats`, docs/protocol.md) for the last 7 and
-- 30 days, per language and per model, in a scratch buffer. The same figures as `infill-ls stats`.
local client_mod = require('infill.client')
local notify = require('infill.notify')

local api = vim.api
local M = {}

M.DAYS = { 7, 30 }
M.BUFFER_NAME = 'infill://stats'

local COUNTS = { 'answered', 'shown', 'accepted', 'acceptedPart', 'dismissed', 'typedOver', 'acceptedChars' }
local HEADERS = { 'answered', 'shown', 'accepted', 'in part', 'dismissed', 'typed over', 'rate', 'accepted chars' }

local function number(v)
  return type(v) == 'number' and v or 0
end

--- (accepted + acceptedPart) / shown, or / answered when nothing was shown (a client that reports nothing);
--- nil when both are 0.
---@param row table
---@return number|nil
function M.rate(row)
  local taken = number(row.accepted) + number(row.acceptedPart)
  local base = number(row.shown) > 0 and number(row.shown) or number(row.answered)
  if base == 0 then
    return nil
  end
  return taken / base
end

--- The result's rows summed by `key` ('language' or 'model'), sorted by name.
---@param rows table[]
---@param key string
---@return table[]
function M.group(rows, key)
  local by, names = {}, {}
  for _, row in ipairs(type(rows) == 'table' and rows or {}) do
    if type(row) == 'table' then
      local name = type(row[key]) == 'string' and row[key] or '?'
      if not by[name] then
        by[name] = { name = name }
        table.insert(names, name)
      end
      for _, k in ipairs(COUNTS) do
        by[name][k] = number(by[name][k]) + number(row[k])
      end
    end
  end
  table.sort(names)
  local out = {}
  for _, name in ipairs(names) do
    table.insert(out, by[name])
  end
  return out
end

local function pct(rate)
  return rate and string.format('%.0f%%', rate * 100) or '-'
end

--- A table's lines: a header row with `title` first, then one row per group, columns aligned.
local function table_lines(title, groups)
  local cells = { { title, unpack(HEADERS) } }
  for _, g in ipairs(groups) do
    table.insert(cells, { g.name, tostring(g.answered), tostring(g.shown), tostring(g.accepted), tostring(g.acceptedPart), tostring(g.dismissed),
      tostring(g.typedOver), pct(M.rate(g)), tostring(g.acceptedChars) })
  end
  local widths = {}
  for _, row in ipairs(cells) do
    for i, cell in ipairs(row) do
      widths[i] = math.max(widths[i] or 0, vim.fn.strdisplaywidth(cell))
    end
  end
  local out = {}
  for _, row in ipairs(cells) do
    local parts = {}
    for i, cell in ipairs(row) do
      local pad = string.rep(' ', widths[i] - vim.fn.strdisplaywidth(cell))
      table.insert(parts, i == 1 and (cell .. pad) or (pad .. cell)) -- names left, numbers right
    end
    table.insert(out, '  ' .. table.concat(parts, '  '))
  end
  return out
end

--- The lines :InfillStats shows for the `infill/stats` results of each period (in M.DAYS order).
---@param results table[]
---@return string[]
function M.lines(results)
  local first = results[1] or {}
  local lines = {}
  if first.enabled == false then
    table.insert(lines, 'infill: statistics are off (infill.stats.enable = false): nothing is counted')
    return lines
  end
  table.insert(lines, 'infill: suggestions shown and taken on this machine, kept in ' .. tostring(first.path or '?'))
  table.insert(lines, 'rate = (accepted + accepted in part) / shown, or / answered where the editor reports nothing')
  for _, result in ipairs(results) do
    table.insert(lines, '')
    table.insert(lines, string.format('Last %s days (since %s)', tostring(result.days), tostring(result.since)))
    if type(result.rows) ~= 'table' or #result.rows == 0 then
      table.insert(lines, '  no suggestions yet')
    else
      vim.list_extend(lines, table_lines('language', M.group(result.rows, 'language')))
      table.insert(lines, '')
      vim.list_extend(lines, table_lines('model', M.group(result.rows, 'model')))
    end
  end
  return lines
end

--- Show `lines` in the stats scratch buffer (reused while it is open), in a window at the bottom.
---@param lines string[]
---@return integer bufnr
function M.open(lines)
  local bufnr = vim.fn.bufnr(M.BUFFER_NAME)
  if bufnr == -1 or not api.nvim_buf_is_valid(bufnr) then
    bufnr = api.nvim_create_buf(false, true)
    api.nvim_buf_set_name(bufnr, M.BUFFER_NAME)
    vim.bo[bufnr].bufhidden = 'wipe'
    vim.bo[bufnr].filetype = 'infillstats'
  end
  local win = vim.fn.bufwinid(bufnr)
  if win == -1 then
    vim.cmd('botright sbuffer ' .. bufnr)
  else
    api.nvim_set_current_win(win)
  end
  vim.bo[bufnr].modifiable = true
  api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].modified = false
  return bufnr
end

--- Ask the server for each period of M.DAYS, then call `done(results)` (nil and a message on failure).
---@param done fun(results: table[]|nil, err: string|nil)
function M.fetch(done)
  local client = client_mod.get()
  if not client then
    done(nil, 'no server running: open a file to start it')
    return
  end
  local results, left, failed = {}, #M.DAYS, false
  for i, days in ipairs(M.DAYS) do
    client_mod.call(client, 'request', 'infill/stats', { days = days }, function(err, result)
      if failed then
        return
      end
      if err or type(result) ~= 'table' then
        failed = true
        done(nil, 'the server did not answer infill/stats: ' .. (err and tostring(err.message or err) or 'no result'))
        return
      end
      results[i] = result
      left = left - 1
      if left == 0 then
        done(results)
      end
    end)
  end
end

--- :InfillStats.
function M.show()
  M.fetch(function(results, err)
    if not results then
      notify.note('infill: ' .. tostring(err), vim.log.levels.WARN)
      return
    end
    M.open(M.lines(results))
  end)
end

return M
