-- Ghost text: request, render, accept and dismiss inline completions.
--
-- Two back ends share the keymaps and the public API:
--   * native (Neovim 0.12+): vim.lsp.inline_completion renders and accepts;
--   * own (Neovim 0.7+): this module asks `textDocument/inlineCompletion` after typing (debounced, one
--     request in flight per buffer), shows the answer as extmarks in the `infill` namespace and applies
--     the item's `range` + `insertText` on accept.
--
-- A suggestion belongs to one (changedtick, cursor) pair of its buffer: any other pair clears it.
local position = require('infill.position')
local client_mod = require('infill.client')

local api = vim.api
local M = {}

M.ns = api.nvim_create_namespace('infill')
M.augroup = api.nvim_create_augroup('infill', { clear = true })
--- Whether ghost text is on (:InfillToggle).
M.enabled = true
--- Whether the native 0.12 back end is in use (set by setup()).
M.native = false
---@type infill.Options
M.options = nil

---@class infill.Suggestion
---@field text string       the item's insertText
---@field ghost string      the part of `text` not yet in the buffer (what is shown)
---@field range integer[]   0-based byte range replaced by `text`: { srow, scol, erow, ecol }
---@field tick integer      changedtick it belongs to
---@field cursor integer[]  cursor {row (1-based), col (byte)} it belongs to
---@field extmark integer
---@field line string       the cursor's line when shown (to tell typing through it from other changes)
---@field nlines integer    the buffer's line count when shown
---@field index integer|nil  its place among the alternatives (state.items) of one answer

---@class infill.BufState
---@field client_id integer
---@field timer userdata|nil       debounce timer
---@field request { id: integer, client_id: integer }|nil  the request in flight
---@field asked_at integer[]|nil   cursor of the scheduled or running request
---@field suggestion infill.Suggestion|nil
---@field items infill.Suggestion[]|nil  every item of the answer shown (an Invoked request's alternatives)
---@field accepted boolean|nil    a whole suggestion was just accepted: ask at once when its text is in

---@type table<integer, infill.BufState>
local buffers = {}

-- 'inline' virtual text exists from 0.10 on: feature-detected on first use (nil = not tried yet).
local inline_supported = nil

local function cursor()
  return api.nvim_win_get_cursor(0)
end

local function in_insert_mode()
  return api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

local function same_cursor(a, b)
  return a[1] == b[1] and a[2] == b[2]
end

--- Whether `s` still matches the buffer (same change and cursor) in the current window.
local function is_current(bufnr, s)
  return s ~= nil
    and api.nvim_get_current_buf() == bufnr
    and api.nvim_buf_get_changedtick(bufnr) == s.tick
    and same_cursor(cursor(), s.cursor)
end

---------------------------------------------------------------------------------------------------
-- Rendering

local function display(text)
  return (text:gsub('\t', string.rep(' ', vim.bo.tabstop)))
end

local function clear(bufnr)
  local state = buffers[bufnr]
  if state and state.suggestion then
    pcall(api.nvim_buf_del_extmark, bufnr, M.ns, state.suggestion.extmark)
    state.suggestion = nil
  end
  if state then
    state.items = nil
  end
end

--- " (2/3)" after the ghost text while the answer has alternatives to cycle through, else nil.
local function counter(bufnr, s)
  local items = buffers[bufnr] and buffers[bufnr].items
  if s.index and items and #items > 1 then
    return string.format(' (%d/%d)', s.index, #items)
  end
  return nil
end

-- Ghost text shows in the current window only, not in the others on the same buffer: a namespace
-- scoped to that window (0.11: nvim__ns_set; 0.10: nvim_win_add_ns and `scoped` marks). Before 0.10
-- every window on the buffer shows it. Returns whether marks need `scoped = true`.
local function scope_to_current_window()
  local win = api.nvim_get_current_win()
  if api.nvim__ns_set then
    pcall(api.nvim__ns_set, M.ns, { wins = { win } })
  elseif api.nvim_win_add_ns then
    for _, w in ipairs(api.nvim_list_wins()) do
      if w ~= win then
        pcall(api.nvim_win_remove_ns, w, M.ns)
      end
    end
    return (pcall(api.nvim_win_add_ns, win, M.ns))
  end
  return false
end

-- First line as virtual text at the cursor, the rest as virtual lines below it.
-- Placement: 'inline' where it exists (0.10+); before that, 'overlay' when the cursor is at the end of
-- the line (looks the same as inline) and 'eol' otherwise, so that the text after the cursor is never
-- hidden (the first line then shows after the end of the line).
local function render(bufnr, s)
  local hl = M.options.hl_group
  local lines = vim.split(s.ghost, '\n', { plain = true })
  local row, col = s.cursor[1] - 1, s.cursor[2]
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  local opts = {
    id = s.extmark, -- set when the same suggestion moves on (typed through): no gap without it
    virt_text = { { display(lines[1]), hl } },
    hl_mode = 'combine',
  }
  if scope_to_current_window() then
    opts.scoped = true
  end
  if #lines > 1 then
    opts.virt_lines = {}
    for i = 2, #lines do
      table.insert(opts.virt_lines, { { display(lines[i]), hl } })
    end
  end
  local count = counter(bufnr, s)
  if count then -- after the last line of the ghost text
    local last = opts.virt_lines and opts.virt_lines[#opts.virt_lines] or opts.virt_text
    table.insert(last, { count, hl })
  end
  if inline_supported ~= false then
    opts.virt_text_pos = 'inline'
    local ok, id = pcall(api.nvim_buf_set_extmark, bufnr, M.ns, row, col, opts)
    if ok then
      inline_supported = true
      s.extmark = id
      return
    end
    if not tostring(id):find('virt_text_pos', 1, true) then
      error(id)
    end
    inline_supported = false
  end
  opts.virt_text_pos = col >= #line and 'overlay' or 'eol'
  s.extmark = api.nvim_buf_set_extmark(bufnr, M.ns, row, col, opts)
end

-- Screen rows of the current window below the cursor's row that are free for ghost lines.
local function rows_below_cursor(first_ghost_line)
  local win = api.nvim_get_current_win()
  local free = api.nvim_win_get_height(win) - vim.fn.winline()
  if vim.wo[win].wrap then
    -- The cursor's line goes on past the cursor on rows of its own (its text after the cursor, and the
    -- ghost's first line).
    local info = vim.fn.getwininfo(win)[1] or {}
    local width = math.max(1, api.nvim_win_get_width(win) - (info.textoff or 0))
    local line = api.nvim_get_current_line()
    local col = vim.fn.virtcol('.') - 1
    local total = vim.fn.strdisplaywidth(line) + vim.fn.strdisplaywidth(first_ghost_line)
    free = free - (math.floor(math.max(total - 1, 0) / width) - math.floor(col / width))
  end
  return free
end

--- Make the ghost lines of `s` visible: scroll the view down (the cursor's row moves up, never out of
--- the window) until they fit below the cursor's row; what still does not fit is cut off, so that accept
--- inserts only what was on the screen.
local function fit(s)
  local lines = vim.split(s.ghost, '\n', { plain = true })
  local need = #lines - 1
  if need == 0 then
    return s
  end
  local free = rows_below_cursor(lines[1])
  while free < need do
    local view = vim.fn.winsaveview()
    if view.topline >= s.cursor[1] then
      break
    end
    vim.fn.winrestview({ topline = view.topline + 1, topfill = 0 })
    if vim.fn.line('w0') == view.topline then
      break -- 'scrolloff' or a fold keeps the view where it was
    end
    free = rows_below_cursor(lines[1])
  end
  if free >= need then
    return s
  end
  local ghost = table.concat(lines, '\n', 1, math.max(free, 0) + 1)
  local cut = vim.deepcopy(s)
  cut.text = s.text:sub(1, #s.text - #s.ghost) .. ghost
  cut.ghost = ghost
  return cut
end

--- Show `s`, one of `items` (the answer's items; nil: `s` alone).
local function show(bufnr, s, items)
  clear(bufnr)
  buffers[bufnr].items = items
  s.extmark = nil -- deleted by clear() when `s` was shown before (cycling)
  s = fit(s)
  s.line = api.nvim_buf_get_lines(bufnr, s.cursor[1] - 1, s.cursor[1], false)[1] or ''
  s.nlines = api.nvim_buf_line_count(bufnr)
  buffers[bufnr].suggestion = s
  render(bufnr, s)
end

--- The user typed (or accept fed) the next characters of the ghost text and nothing else changed: keep
--- showing the rest, moved on, in the same extmark. No request and no moment without ghost text.
---@return boolean advanced
local function advance(bufnr)
  local state = buffers[bufnr]
  local s = state and state.suggestion
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
  state.items = nil -- typing through one alternative leaves that one
  s.nlines = api.nvim_buf_line_count(bufnr)
  s.tick = api.nvim_buf_get_changedtick(bufnr)
  render(bufnr, s)
  return true
end

---------------------------------------------------------------------------------------------------
-- Requests

--- Whether the buffer lets infill ask (`vim.b.infill_enabled = false` turns one buffer off).
function M.buffer_enabled(bufnr)
  local ok, on = pcall(api.nvim_buf_get_var, bufnr, 'infill_enabled')
  return not (ok and (on == false or on == 0))
end

local function get_client(state)
  local client = vim.lsp.get_client_by_id(state.client_id)
  if client and not client_mod.call(client, 'is_stopped') then
    return client
  end
  return nil
end

local function cancel(bufnr)
  local state = buffers[bufnr]
  if not state then
    return
  end
  if state.timer then
    state.timer:stop()
  end
  local req = state.request
  state.request = nil
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
  return { text = text, ghost = ghost, range = range, tick = tick, cursor = cur }
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
  local state = buffers[bufnr]
  if not (state and M.enabled and not M.native and M.buffer_enabled(bufnr)) then
    return
  end
  if api.nvim_get_current_buf() ~= bufnr or not in_insert_mode() then
    return
  end
  local client = get_client(state)
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
    if state.request and state.request.id == id then
      state.request = nil
    end
    if err or buffers[bufnr] ~= state or not M.enabled then
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
      show(bufnr, items[(step or 0) % #items + 1], items)
    end
  end
  local ok, req_id = client_mod.call(client, 'request', 'textDocument/inlineCompletion', params, on_result, bufnr)
  if ok and req_id then
    id = req_id
    state.request = { id = req_id, client_id = client.id }
  end
end

--- Clear, cancel, and ask again after the debounce.
local function schedule(bufnr)
  local state = buffers[bufnr]
  if not state then
    return
  end
  clear(bufnr)
  cancel(bufnr)
  if not M.enabled or M.native then
    return
  end
  state.asked_at = cursor()
  if not state.timer then
    state.timer = (vim.uv or vim.loop).new_timer()
  end
  state.timer:start(
    math.max(0, M.options.debounce_ms),
    0,
    vim.schedule_wrap(function()
      request(bufnr)
    end)
  )
end

---------------------------------------------------------------------------------------------------
-- Native back end (Neovim 0.12+). Its state is private; the visible text is read from its extmark.

local function native_ns()
  return api.nvim_get_namespaces()['nvim.lsp.inline_completion']
end

local function native_text(bufnr)
  local ns = native_ns()
  if not ns then
    return nil
  end
  local marks = api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })
  local details = marks[1] and marks[1][4]
  if not details then
    return nil
  end
  local function chunks(list)
    local parts = {}
    for _, chunk in ipairs(list or {}) do
      if chunk[2] ~= 'ComplHintMore' then -- the " (1/3)" counter
        table.insert(parts, chunk[1])
      end
    end
    return table.concat(parts)
  end
  local lines = { chunks(details.virt_text) }
  for _, vl in ipairs(details.virt_lines or {}) do
    table.insert(lines, chunks(vl))
  end
  local text = table.concat(lines, '\n')
  return text ~= '' and text or nil
end

---------------------------------------------------------------------------------------------------
-- Public operations

--- The visible suggestion text in `bufnr` (default: current), or nil.
function M.suggestion(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if M.native then
    return native_text(bufnr)
  end
  local state = buffers[bufnr]
  local s = state and state.suggestion
  if s and is_current(bufnr, s) then
    return s.ghost
  end
  return nil
end

--- The next piece of `ghost` for accept-word / accept-line.
local function next_piece(ghost, kind)
  if kind == 'line' then
    local nl = ghost:find('\n', 1, true)
    if nl == 1 then
      -- Only a line break is left on this line: take it and the following line.
      local nl2 = ghost:find('\n', 2, true)
      return nl2 and ghost:sub(1, nl2 - 1) or ghost
    end
    return nl and ghost:sub(1, nl - 1) or ghost
  end
  -- word: leading white space (line breaks included), then a run of word characters or of punctuation.
  local piece = ghost:match('^%s*[%w_]+') or ghost:match('^%s*[^%w_%s]+') or ghost:match('^%s+')
  return piece or ghost:sub(1, 1)
end

-- Insert `text` at the cursor, or replace `range` with it; put the cursor after it.
local function put(bufnr, range, text)
  local lines = vim.split(text, '\n', { plain = true })
  api.nvim_buf_set_text(bufnr, range[1], range[2], range[3], range[4], lines)
  local row = range[1] + #lines - 1
  local col = (#lines == 1 and range[2] or 0) + #lines[#lines]
  api.nvim_win_set_cursor(0, { row + 1, col })
  return { row + 1, col }
end

--- Keys that insert `text` exactly as it is, as typed (so that `.` repeats it): CTRL-V before every
--- character (no mapping, abbreviation, 'expandtab' or re-indent), except letters x, u, o and digits,
--- which CTRL-V would read as a character code and which trigger nothing; each line break as <CR> then
--- `0 CTRL-D`, which removes the indent <CR> gave, leaving the text's own.
local function typed_keys(text)
  local keys = {}
  for i, line in ipairs(vim.split(text, '\n', { plain = true })) do
    if i > 1 then
      table.insert(keys, '\r0\4')
    end
    for _, ch in ipairs(vim.fn.split(line, '\\zs')) do
      table.insert(keys, ch:match('^[xXuUoO0-9]$') and ch or ('\22' .. ch))
    end
  end
  return table.concat(keys)
end

-- Type `text` at the cursor after deleting `dels` characters right of it. The keys run after the
-- current mapping, before anything typed later ('i'), without mappings ('n').
local function feed(text, dels)
  api.nvim_feedkeys(typed_keys(text), 'ni', true)
  if dels > 0 then
    api.nvim_feedkeys(string.rep(api.nvim_replace_termcodes('<Del>', true, false, true), dels), 'ni', false)
  end
end

--- Insert the suggestion (kind 'all'), its next word ('word') or the rest of its line ('line'). The
--- text goes in as typed keys just after this returns, so that `.` repeats it.
---@return boolean accepted
function M.accept(kind, bufnr)
  kind = kind or 'all'
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if M.native then
    if kind == 'all' then
      return vim.lsp.inline_completion.get({ bufnr = bufnr }) and true or false
    end
    local ghost = native_text(bufnr)
    if not ghost then
      return false
    end
    local cur = cursor()
    put(bufnr, { cur[1] - 1, cur[2], cur[1] - 1, cur[2] }, next_piece(ghost, kind))
    return true
  end
  local state = buffers[bufnr]
  local s = state and state.suggestion
  if not (s and is_current(bufnr, s)) then
    return false
  end
  if kind == 'all' then
    -- The item replaces its range: the typed start of it is there already; the end, right of the
    -- cursor, goes.
    clear(bufnr)
    local tail = api.nvim_get_current_line():sub(s.cursor[2] + 1, s.range[4])
    feed(s.ghost, vim.fn.strchars(tail))
    state.accepted = true
    return true
  end
  -- A piece: what is left stays shown (advance() moves it on once the keys have run). Text after the
  -- cursor that the item replaces stays after the cursor, and stays replaced.
  feed(next_piece(s.ghost, kind), 0)
  return true
end

--- Hide the suggestion and cancel the request in flight.
function M.dismiss(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if M.native then
    -- No public dismiss in 0.12: switching the buffer off and on drops the current item.
    if native_text(bufnr) then
      vim.lsp.inline_completion.enable(false, { bufnr = bufnr })
      vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    end
    return
  end
  cancel(bufnr)
  clear(bufnr)
end

function M.visible(bufnr)
  return M.suggestion(bufnr) ~= nil
end

--- Turn ghost text on or off everywhere.
function M.set_enabled(on)
  M.enabled = on
  for bufnr in pairs(buffers) do
    if M.native then
      pcall(vim.lsp.inline_completion.enable, on, { bufnr = bufnr })
    else
      cancel(bufnr)
      clear(bufnr)
    end
  end
end

--- The server became ready: ask for the current position (requests before that got nothing).
function M.on_ready()
  local bufnr = api.nvim_get_current_buf()
  local state = buffers[bufnr]
  if state and not state.suggestion and not state.request and in_insert_mode() then
    schedule(bufnr)
  end
end

--- Ask for a suggestion at the cursor now, as an Invoked request (the trigger key).
function M.trigger(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local state = buffers[bufnr]
  if not state or M.native then
    return
  end
  clear(bufnr)
  cancel(bufnr)
  state.asked_at = cursor()
  request(bufnr, true)
end

--- Show the next (`delta` 1) or previous (-1) alternative. Without alternatives to cycle through (none
--- shown, or an Automatic request's single item), ask for them now with an Invoked request; when a
--- suggestion was shown, the answer opens one place on (its first item is the one shown).
function M.cycle(delta, bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if M.native then
    if vim.lsp.inline_completion.select then
      vim.lsp.inline_completion.select({ bufnr = bufnr, count = delta })
    end
    return
  end
  local state = buffers[bufnr]
  if not state then
    return
  end
  local s, items = state.suggestion, state.items
  local shown = s ~= nil and is_current(bufnr, s)
  if shown and items and #items > 1 and s.index then
    show(bufnr, items[(s.index - 1 + delta) % #items + 1], items)
    return
  end
  clear(bufnr)
  cancel(bufnr)
  state.asked_at = cursor()
  request(bufnr, true, shown and delta or 0)
end

--- Called from the keymaps (through <Cmd>, so the buffer may change).
function M.key(kind)
  if kind == 'dismiss' then
    M.dismiss()
  else
    M.accept(kind)
  end
end

---------------------------------------------------------------------------------------------------
-- Attaching

local function termcodes(keys)
  return api.nvim_replace_termcodes(keys, true, true, true)
end

-- The mapping `lhs` had in `bufnr` before ours (buffer-local), else the global one; nil when none.
local function user_mapping(lhs, saved)
  if saved then
    return saved
  end
  local raw = termcodes(lhs)
  for _, m in ipairs(api.nvim_get_keymap('i')) do
    if termcodes(m.lhs) == raw then
      return m
    end
  end
  return nil
end

-- Non-expr Lua callbacks of user mappings, run from <Cmd> (no textlock there).
local pending_callback = nil

function M._run_fallback()
  local fn = pending_callback
  pending_callback = nil
  if fn then
    fn()
  end
end

--- What `lhs` did before infill mapped it: the user's mapping (expr or not, buffer-local or global),
--- else the key itself. Called inside our <expr> mapping; returns the keys it evaluates to.
local function fallback(lhs, saved)
  local m = user_mapping(lhs, saved)
  if not m then
    return lhs
  end
  local raw = termcodes(lhs)
  local keys
  if m.expr == 1 then
    local ok, result
    if m.callback then
      ok, result = pcall(m.callback)
    else
      ok, result = pcall(vim.fn.eval, m.rhs)
    end
    if not ok or type(result) ~= 'string' then
      return ''
    end
    -- A Vim script expression gives keys as they are; a Lua callback usually gives key notation.
    keys = m.callback and termcodes(result) or result
  elseif m.callback then
    pending_callback = m.callback
    return "<Cmd>lua require('infill.ghost')._run_fallback()<CR>"
  else
    keys = termcodes(m.rhs or '')
  end
  -- As Vim does: a {rhs} that starts with {lhs} does not map that {lhs} again.
  local noremap = m.noremap == 1 or keys:sub(1, #raw) == raw
  api.nvim_feedkeys(keys, noremap and 'ni' or 'mi', false)
  return ''
end

local function set_keymaps(bufnr)
  local keys = M.options.keymaps
  local state = buffers[bufnr]
  state.saved = state.saved or {}
  local actions = {
    { keys.accept, 'all', 'infill: accept the suggestion' },
    { keys.accept_word, 'word', 'infill: accept the next word' },
    { keys.accept_line, 'line', 'infill: accept the rest of the line' },
    { keys.dismiss, 'dismiss', 'infill: dismiss the suggestion' },
  }
  for _, a in ipairs(actions) do
    local lhs, kind, desc = a[1], a[2], a[3]
    if lhs then
      -- A buffer-local mapping of the user's is replaced by ours: keep it for the fall-back.
      local saved = state.saved[lhs]
      if saved == nil then
        saved = api.nvim_buf_call(bufnr, function()
          return vim.fn.maparg(lhs, 'i', false, true)
        end)
        if not (type(saved) == 'table' and saved.buffer == 1) then
          saved = false
        end
        state.saved[lhs] = saved
      end
      saved = saved or nil
      -- expr: act only while a suggestion is visible, otherwise the key does what it did before.
      vim.keymap.set('i', lhs, function()
        if M.visible(bufnr) then
          return string.format("<Cmd>lua require('infill.ghost').key('%s')<CR>", kind)
        end
        return fallback(lhs, saved)
      end, { buffer = bufnr, expr = true, silent = true, desc = desc })
    end
  end
  if keys.trigger then
    vim.keymap.set('i', keys.trigger, function()
      M.trigger(bufnr)
    end, { buffer = bufnr, silent = true, desc = 'infill: ask for a suggestion now' })
  end
  for _, c in ipairs({ { keys.next, 1, 'next' }, { keys.prev, -1, 'previous' } }) do
    if c[1] then
      vim.keymap.set('i', c[1], function()
        M.cycle(c[2], bufnr)
      end, { buffer = bufnr, silent = true, desc = 'infill: show the ' .. c[3] .. ' alternative' })
    end
  end
end

local function set_autocmds(bufnr)
  api.nvim_clear_autocmds({ group = M.augroup, buffer = bufnr })
  local function au(events, fn)
    api.nvim_create_autocmd(events, { group = M.augroup, buffer = bufnr, callback = fn })
  end
  if not M.native then
    au('TextChangedI', function()
      local state = buffers[bufnr]
      if state and state.accepted then
        -- The accepted text is in: ask for what follows now (the server has it ready, speculatively),
        -- without the debounce.
        state.accepted = nil
        clear(bufnr)
        state.asked_at = cursor()
        request(bufnr)
        return
      end
      local s = state and state.suggestion
      if not is_current(bufnr, s) and not advance(bufnr) then -- a partial accept keeps what is left
        schedule(bufnr)
      end
    end)
    au('CursorMovedI', function()
      local state = buffers[bufnr]
      if not state then
        return
      end
      if is_current(bufnr, state.suggestion) or advance(bufnr) then
        return
      end
      -- A move without typing (arrow keys, a click): ask for the new position. The old request and
      -- suggestion belong to another position: schedule() drops them.
      if not (state.asked_at and same_cursor(state.asked_at, cursor())) then
        schedule(bufnr)
      end
    end)
    au('InsertEnter', function()
      schedule(bufnr)
    end)
    au({ 'InsertLeave', 'BufLeave', 'TextChanged', 'TextChangedP' }, function()
      cancel(bufnr)
      clear(bufnr)
    end)
  end
  au({ 'BufUnload', 'BufWipeout' }, function()
    M.detach(bufnr)
  end)
end

--- New keymaps from setup(): remove the ones made with `old` in every attached buffer, then map again.
function M.remap(old)
  for bufnr in pairs(buffers) do
    for _, lhs in pairs(old) do
      if lhs then
        pcall(vim.keymap.del, 'i', lhs, { buffer = bufnr })
      end
    end
    set_keymaps(bufnr)
  end
end

--- Start ghost text in `bufnr` for `client`.
function M.attach(client, bufnr)
  if buffers[bufnr] then
    buffers[bufnr].client_id = client.id
    return
  end
  buffers[bufnr] = { client_id = client.id }
  set_autocmds(bufnr)
  set_keymaps(bufnr)
  if M.native and M.enabled then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  end
end

function M.detach(bufnr)
  local state = buffers[bufnr]
  if not state then
    return
  end
  cancel(bufnr)
  clear(bufnr)
  if state.timer then
    state.timer:close()
  end
  buffers[bufnr] = nil
  pcall(api.nvim_clear_autocmds, { group = M.augroup, buffer = bufnr })
end

--- Internal state of `bufnr`, for tests and :InfillStatus.
function M.state(bufnr)
  return buffers[(bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr]
end

M._next_piece = next_piece

return M
