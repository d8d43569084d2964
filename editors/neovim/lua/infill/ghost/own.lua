-- The plugin's own back end (Neovim 0.7+): asks `textDocument/inlineCompletion` after typing (debounced,
-- one request in flight per buffer), shows the answer through infill.ghost.render, keeps it while the user
-- types through it, and applies the item's `range` + `insertText` on accept.
--
-- An infill.Backend (the functions every back end has: see infill.ghost).
local client_mod = require('infill.client')
local config = require('infill.config')
local feedback = require('infill.ghost.feedback')
local insert = require('infill.ghost.insert')
local position = require('infill.position')
local render = require('infill.ghost.render')
local state = require('infill.ghost.state')

local api = vim.api
local M = {}

local buffers = state.buffers
local cursor, in_insert_mode, same_cursor, is_current = state.cursor, state.in_insert_mode, state.same_cursor,
  state.is_current
local clear = render.clear

---------------------------------------------------------------------------------------------------
-- Feedback (infill.ghost.feedback): what became of the suggestions shown

--- Tell the server `event` ('shown', 'accept', 'dismissed', 'typedOver') about suggestion `s` of `bufnr`.
local function report(bufnr, s, event, kind, piece)
  local st = buffers[bufnr]
  if not (st and s and s.id) then
    return
  end
  st.feedback = st.feedback or {}
  feedback.send(vim.lsp.get_client_by_id(st.client_id), st.feedback, feedback.params(s.id, event, kind, piece),
    config.options.settings)
end

--- The suggestion on show no longer matches the buffer and was not typed through: typed over, or dismissed
--- by another change or a cursor move.
local function settle(bufnr)
  local st = buffers[bufnr]
  local s = st and st.suggestion
  if not s then
    return
  end
  local now = { tick = api.nvim_buf_get_changedtick(bufnr), cursor = cursor(), line = api.nvim_get_current_line(),
    nlines = api.nvim_buf_line_count(bufnr) }
  local event = 'dismissed' -- left the buffer
  if api.nvim_get_current_buf() == bufnr then
    event = feedback.after_change(s, now)
  end
  if event then
    report(bufnr, s, event)
  end
end

--- Show `s` (one of `items`) and tell the server it is on show.
local function show(bufnr, s, items)
  render.show(bufnr, s, items)
  report(bufnr, s, 'shown')
end

---------------------------------------------------------------------------------------------------
-- Requests

local function get_client(st)
  local client = vim.lsp.get_client_by_id(st.client_id)
  if client and not client_mod.call(client, 'is_stopped') then
    return client
  end
  return nil
end

local function cancel(bufnr)
  local st = buffers[bufnr]
  if not st then
    return
  end
  if st.timer then
    st.timer:stop()
  end
  local req = st.request
  st.request = nil
  if req then
    local client = vim.lsp.get_client_by_id(req.client_id)
    if client then
      pcall(client_mod.call, client, 'cancel_request', req.id)
    end
  end
end

--- The suggestion one inline completion item makes at the current cursor, or nil.
local function suggestion_from(bufnr, client, item, tick, cur)
  if type(item) ~= 'table' then
    return nil
  end
  local text = item.insertText
  if type(text) == 'table' then
    text = text.value -- a StringValue snippet: shown and inserted as plain text
  end
  if type(text) ~= 'string' or text == '' then
    return nil
  end
  local row, col = cur[1] - 1, cur[2]
  local range = { row, col, row, col }
  if type(item.range) == 'table' then
    range = position.byte_range(bufnr, item.range, client.offset_encoding or 'utf-16')
  end
  -- Only ranges on the cursor line that contain the cursor make sense as ghost text.
  if range[1] ~= row or range[3] ~= row or range[2] > col or range[4] < col then
    return nil
  end
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  local typed = line:sub(range[2] + 1, col)
  if text:sub(1, #typed) ~= typed then
    return nil
  end
  local ghost = text:sub(#typed + 1)
  if ghost == '' then
    return nil
  end
  return { text = text, ghost = ghost, range = range, tick = tick, cursor = cur, id = feedback.item_id(item) }
end

--- The suggestions of an inline completion answer, in its order, without repeats (each has its `index`).
local function suggestions_from(bufnr, client, result, tick, cur)
  local items = type(result) == 'table' and (result.items or result) or {}
  local out, seen = {}, {}
  for _, item in ipairs(type(items) == 'table' and items or {}) do
    local s = suggestion_from(bufnr, client, item, tick, cur)
    if s and not seen[s.ghost] then
      seen[s.ghost] = true
      s.index = #out + 1
      table.insert(out, s)
    end
  end
  return out
end

--- Ask now. `invoked`: the user asked (trigger key), so the server runs the model even where it would skip
--- and answers with its alternatives. `step`: show the item that many places after the first (cycling keys).
local function request(bufnr, invoked, step)
  local st = buffers[bufnr]
  if not (st and state.enabled and state.buffer_enabled(bufnr)) then
    return
  end
  if api.nvim_get_current_buf() ~= bufnr or not in_insert_mode() then
    return
  end
  -- infill.completion.trigger(Languages) 'manual': only the trigger and cycling keys ask.
  if not invoked and config.trigger_mode(config.options.settings, vim.bo[bufnr].filetype) == 'manual' then
    return
  end
  local client = get_client(st)
  if not client or not (client.server_capabilities or {}).inlineCompletionProvider then
    return
  end
  cancel(bufnr)
  local cur = cursor()
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = position.lsp_position(bufnr, cur[1] - 1, cur[2], client.offset_encoding or 'utf-16'),
    context = { triggerKind = invoked and 1 or 2 }, -- Invoked or Automatic
  }
  local id
  local function on_result(err, result)
    if st.request and st.request.id == id then
      st.request = nil
    end
    if err or buffers[bufnr] ~= st or not state.enabled then
      return
    end
    -- Drop answers that no longer match the buffer.
    if api.nvim_get_current_buf() ~= bufnr or not in_insert_mode() then
      return
    end
    if api.nvim_buf_get_changedtick(bufnr) ~= tick or not same_cursor(cursor(), cur) then
      return
    end
    local items = suggestions_from(bufnr, client, result, tick, cur)
    if #items > 0 then
      st.feedback = {} -- the ids of this answer (the earlier ones are gone from the screen)
      show(bufnr, items[(step or 0) % #items + 1], items)
    end
  end
  local ok, req_id = client_mod.call(client, 'request', 'textDocument/inlineCompletion', params, on_result, bufnr)
  if ok and req_id then
    id = req_id
    st.request = { id = req_id, client_id = client.id }
  end
end

--- Clear, cancel, and ask again after the debounce.
local function schedule(bufnr)
  local st = buffers[bufnr]
  if not st then
    return
  end
  clear(bufnr)
  cancel(bufnr)
  if not state.enabled then
    return
  end
  st.asked_at = cursor()
  if not st.timer then
    st.timer = (vim.uv or vim.loop).new_timer()
  end
  st.timer:start(
    math.max(0, config.options.debounce_ms),
    0,
    vim.schedule_wrap(function()
      request(bufnr)
    end)
  )
end

---------------------------------------------------------------------------------------------------
-- Typing through

--- The user typed (or accept fed) the next characters of the ghost text and nothing else changed: keep
--- showing the rest, moved on, in the same extmark. No request and no moment without ghost text.
---@return boolean advanced
local function advance(bufnr)
  local st = buffers[bufnr]
  local s = st and st.suggestion
  if not s or api.nvim_get_current_buf() ~= bufnr or is_current(bufnr, s) then
    return false
  end
  local cur = cursor()
  local breaks = cur[1] - s.cursor[1]
  if breaks < 0 or api.nvim_buf_line_count(bufnr) ~= s.nlines + breaks then
    return false
  end
  -- The ghost text up to the cursor: `breaks` line breaks, then the cursor's column on the last line.
  local k = 0
  for _ = 1, breaks do
    k = s.ghost:find('\n', k + 1, true)
    if not k then
      return false
    end
  end
  local n = breaks == 0 and cur[2] - s.cursor[2] or cur[2]
  local typed = s.ghost:sub(1, k + n)
  local rest = s.ghost:sub(k + n + 1)
  if n < 0 or typed == '' or #typed ~= k + n or typed:find('\n', k + 1, true) or rest == '' then
    return false
  end
  local expect = vim.split(s.line:sub(1, s.cursor[2]) .. typed .. s.line:sub(s.cursor[2] + 1), '\n', { plain = true })
  local lines = api.nvim_buf_get_lines(bufnr, s.cursor[1] - 1, cur[1], false)
  if not vim.deep_equal(lines, expect) then
    return false
  end
  local tail = s.range[4] - s.cursor[2] -- text after the cursor that the item replaces
  if breaks == 0 then
    s.range = { s.range[1], s.range[2], s.range[3], s.range[4] + n }
  else
    s.text = rest
    s.range = { cur[1] - 1, cur[2], cur[1] - 1, cur[2] + tail }
  end
  s.ghost, s.cursor, s.line = rest, cur, lines[#lines]
  st.items = nil -- typing through one alternative leaves that one
  s.nlines = api.nvim_buf_line_count(bufnr)
  s.tick = api.nvim_buf_get_changedtick(bufnr)
  render.draw(bufnr, s)
  return true
end

---------------------------------------------------------------------------------------------------
-- The back end's functions

function M.suggestion(bufnr)
  local st = buffers[bufnr]
  local s = st and st.suggestion
  if s and is_current(bufnr, s) then
    return s.ghost
  end
  return nil
end

--- The text goes in as typed keys just after this returns, so that `.` repeats it.
function M.accept(bufnr, kind)
  local st = buffers[bufnr]
  local s = st and st.suggestion
  if not (s and is_current(bufnr, s)) then
    return false
  end
  if kind == 'all' then
    report(bufnr, s, 'accept', 'all')
    -- The item replaces its range: the typed start of it is there already; the end, right of the
    -- cursor, goes.
    clear(bufnr)
    local tail = api.nvim_get_current_line():sub(s.cursor[2] + 1, s.range[4])
    insert.feed(s.ghost, vim.fn.strchars(tail))
    st.accepted = true
    return true
  end
  -- A piece: what is left stays shown (advance() moves it on once the keys have run). Text after the
  -- cursor that the item replaces stays after the cursor, and stays replaced.
  local piece = insert.next_piece(s.ghost, kind)
  report(bufnr, s, 'accept', kind, piece)
  insert.feed(piece, 0)
  return true
end

function M.dismiss(bufnr)
  local st = buffers[bufnr]
  if st and st.suggestion then
    report(bufnr, st.suggestion, 'dismissed')
  end
  cancel(bufnr)
  clear(bufnr)
end

function M.set_enabled(bufnr, _)
  cancel(bufnr)
  clear(bufnr)
end

function M.on_ready(bufnr)
  local st = buffers[bufnr]
  if st and not st.suggestion and not st.request and in_insert_mode() then
    schedule(bufnr)
  end
end

function M.trigger(bufnr)
  local st = buffers[bufnr]
  if not st then
    return
  end
  if st.suggestion then
    report(bufnr, st.suggestion, 'dismissed') -- asked for another one
  end
  clear(bufnr)
  cancel(bufnr)
  st.asked_at = cursor()
  request(bufnr, true)
end

function M.cycle(bufnr, delta)
  local st = buffers[bufnr]
  if not st then
    return
  end
  local s, items = st.suggestion, st.items
  local shown = s ~= nil and is_current(bufnr, s)
  if shown and items and #items > 1 and s.index then
    show(bufnr, items[(s.index - 1 + delta) % #items + 1], items)
    return
  end
  clear(bufnr)
  cancel(bufnr)
  st.asked_at = cursor()
  request(bufnr, true, shown and delta or 0)
end

--- Ask after typing and moving in Insert mode; drop everything on leaving it or on other changes.
function M.attach(bufnr)
  local function au(events, fn)
    api.nvim_create_autocmd(events, { group = state.augroup, buffer = bufnr, callback = fn })
  end
  au('TextChangedI', function()
    local st = buffers[bufnr]
    if st and st.accepted then
      -- The accepted text is in: ask for what follows now (the server has it ready, speculatively),
      -- without the debounce.
      st.accepted = nil
      clear(bufnr)
      st.asked_at = cursor()
      request(bufnr)
      return
    end
    local s = st and st.suggestion
    if not is_current(bufnr, s) and not advance(bufnr) then -- a partial accept keeps what is left
      settle(bufnr)
      schedule(bufnr)
    end
  end)
  au('CursorMovedI', function()
    local st = buffers[bufnr]
    if not st then
      return
    end
    if is_current(bufnr, st.suggestion) or advance(bufnr) then
      return
    end
    settle(bufnr) -- CursorMovedI comes before TextChangedI: a typed key is told here
    -- A move without typing (arrow keys, a click): ask for the new position. The old request and
    -- suggestion belong to another position: schedule() drops them.
    if not (st.asked_at and same_cursor(st.asked_at, cursor())) then
      schedule(bufnr)
    end
  end)
  au('InsertEnter', function()
    schedule(bufnr)
  end)
  au({ 'InsertLeave', 'BufLeave', 'TextChanged', 'TextChangedP' }, function()
    M.dismiss(bufnr)
  end)
end

function M.detach(bufnr)
  cancel(bufnr)
  clear(bufnr)
  local st = buffers[bufnr]
  if st and st.timer then
    st.timer:close()
  end
end

return M
