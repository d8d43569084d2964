-- What ghost text knows: whether it is on, and per attached buffer the request in flight and the
-- suggestion on show. Every other ghost module reads and writes these records; none keeps its own copy.
--
-- A suggestion belongs to one (changedtick, cursor) pair of its buffer: any other pair clears it.
local api = vim.api
local M = {}

M.ns = api.nvim_create_namespace('infill')
M.augroup = api.nvim_create_augroup('infill', { clear = true })
--- Whether ghost text is on (:InfillToggle).
M.enabled = true

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
---@field id string|nil     the server's suggestion id (infill/didFeedback), nil from an older server

---@class infill.BufState
---@field client_id integer
---@field timer userdata|nil       debounce timer
---@field request { id: integer, client_id: integer }|nil  the request in flight
---@field asked_at integer[]|nil   cursor of the scheduled or running request
---@field suggestion infill.Suggestion|nil
---@field items infill.Suggestion[]|nil  every item of the answer shown (an Invoked request's alternatives)
---@field accepted boolean|nil    a whole suggestion was just accepted: ask at once when its text is in
---@field feedback table<string, string>|nil  per suggestion id of the answer on show, what the server was told

--- The attached buffers.
---@type table<integer, infill.BufState>
M.buffers = {}

--- `bufnr`, with nil and 0 meaning the current buffer.
function M.bufnr(bufnr)
  return (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
end

function M.cursor()
  return api.nvim_win_get_cursor(0)
end

function M.in_insert_mode()
  return api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

function M.same_cursor(a, b)
  return a[1] == b[1] and a[2] == b[2]
end

--- Whether `s` still matches the buffer (same change and cursor) in the current window.
function M.is_current(bufnr, s)
  return s ~= nil
    and api.nvim_get_current_buf() == bufnr
    and api.nvim_buf_get_changedtick(bufnr) == s.tick
    and M.same_cursor(M.cursor(), s.cursor)
end

--- Whether the buffer lets infill ask (`vim.b.infill_enabled = false` turns one buffer off).
function M.buffer_enabled(bufnr)
  local ok, on = pcall(api.nvim_buf_get_var, bufnr, 'infill_enabled')
  return not (ok and (on == false or on == 0))
end

return M
