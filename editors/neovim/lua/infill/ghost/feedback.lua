-- What became of the own back end's suggestions, for the server's local acceptance statistics
-- (`infill/didFeedback`, docs/protocol.md): shown when drawn, accepted / acceptedPart on the accept keys,
-- dismissed on the dismiss key, Esc, leaving the buffer or moving the cursor away, typedOver when the user
-- types something the suggestion did not predict (typing its own next characters is typing through it).
--
-- The decisions are pure functions of plain tables (tested one table row each); `send` is the one that
-- talks to the server. The native back end (0.12) reports nothing itself: vim.lsp.inline_completion runs the
-- item's `command` (`infill.accepted`, workspace/executeCommand) when the user accepts the whole suggestion.
local M = {}

--- The suggestion id an inline completion item carries: its command's argument (`infill.accepted`), else its
--- `data.id`; nil when it has none (an older server).
---@param item table
---@return string|nil
function M.item_id(item)
  if type(item) ~= 'table' then
    return nil
  end
  local cmd = item.command
  local arg = type(cmd) == 'table' and type(cmd.arguments) == 'table' and cmd.arguments[1] or nil
  if type(arg) == 'table' and type(arg.id) == 'string' and arg.id ~= '' then
    return arg.id
  end
  local data = item.data
  if type(data) == 'table' and type(data.id) == 'string' and data.id ~= '' then
    return data.id
  end
  return nil
end

---@class infill.Shown      what was on show (an infill.Suggestion's fields)
---@field ghost string      the text shown
---@field tick integer      the buffer's changedtick then
---@field cursor integer[]  {row (1-based), byte col}
---@field line string       the cursor's line then
---@field nlines integer    the buffer's line count then

---@class infill.Now        the same, now (`line`: the cursor's line now)
---@field tick integer
---@field cursor integer[]
---@field line string
---@field nlines integer

--- What a change of the text or the cursor did to the suggestion on show, once it no longer matches and was
--- not typed through: 'typedOver' when text was typed at the cursor that the suggestion did not predict,
--- 'dismissed' for any other change or a cursor move; nil while it still matches, or when what was typed is
--- its own beginning (typing through it).
---@param shown infill.Shown
---@param now infill.Now
---@return string|nil
function M.after_change(shown, now)
  local same_cursor = now.cursor[1] == shown.cursor[1] and now.cursor[2] == shown.cursor[2]
  if now.tick == shown.tick then
    return (not same_cursor) and 'dismissed' or nil
  end
  local rows = now.nlines - shown.nlines
  if rows == 0 and now.cursor[1] == shown.cursor[1] then
    local c0, c1 = shown.cursor[2], now.cursor[2]
    local typed = now.line:sub(c0 + 1, c1)
    local inserted = c1 > c0 and now.line == shown.line:sub(1, c0) .. typed .. shown.line:sub(c0 + 1)
    if not inserted then
      return 'dismissed' -- deleted, or changed elsewhere
    end
    if shown.ghost:sub(1, #typed) == typed then
      return nil -- typed through
    end
    return 'typedOver'
  end
  if rows > 0 and now.cursor[1] == shown.cursor[1] + rows then
    -- A line break typed at the cursor (indent after it aside).
    if shown.ghost:sub(1, 1) == '\n' then
      return nil
    end
    return 'typedOver'
  end
  return 'dismissed'
end

--- The `infill/didFeedback` params for `event` on suggestion `id`; for an accept key (`event` 'accept'),
--- `kind` is 'all', 'word' or 'line' and `piece` the text that key inserts.
---@param id string
---@param event string 'shown'|'accept'|'dismissed'|'typedOver'
---@param kind string|nil
---@param piece string|nil
---@return table
function M.params(id, event, kind, piece)
  if event ~= 'accept' then
    return { id = id, event = event }
  end
  if kind == 'all' then
    return { id = id, event = 'accepted' }
  end
  return { id = id, event = 'acceptedPart', part = kind, characters = vim.fn.strchars(piece or '') }
end

local TERMINAL = { accepted = true, dismissed = true, typedOver = true }

--- Whether to send `event` for a suggestion whose record is `record` (nil: nothing sent yet; 'shown';
--- 'done': it ended), and its record after. `shown` goes once; after an end (accepted, dismissed, typed
--- over) nothing more goes; parts may go many times, and an accept of the rest after them.
---@param record string|nil
---@param event string a didFeedback event
---@return boolean send
---@return string|nil record
function M.step(record, event)
  if record == 'done' then
    return false, record
  end
  if event == 'shown' then
    return record == nil, 'shown'
  end
  if TERMINAL[event] then
    return true, 'done'
  end
  return true, record or 'shown'
end

--- Tell the server (`client`) about `params.event` on the suggestion, unless `records` (the buffer's, by id)
--- says it was told already; nothing for a suggestion without an id or with `infill.stats.enable` off.
---@param client table|nil
---@param records table<string, string>
---@param params table|nil from M.params
---@param settings table the `infill.*` tree
function M.send(client, records, params, settings)
  if not (client and params and params.id) then
    return
  end
  local stats = type(settings) == 'table' and settings.stats or nil
  if type(stats) == 'table' and stats.enable == false then
    return
  end
  local ok, record = M.step(records[params.id], params.event)
  records[params.id] = record
  if ok then
    require('infill.client').call(client, 'notify', 'infill/didFeedback', params)
  end
end

return M
