-- Drawing the plugin's own ghost text: extmarks in the `infill` namespace, scoped to the current window.
--
-- The first line is virtual text at the cursor, the rest virtual lines below it, with " (2/3)" after the
-- last line while the answer has alternatives; the view scrolls so that the lines fit below the cursor.
local config = require('infill.config')
local state = require('infill.ghost.state')

local api = vim.api
local M = {}

-- 'inline' virtual text exists from 0.10 on: feature-detected on first use (nil = not tried yet).
local inline_supported = nil

local function display(text)
  return (text:gsub('\t', string.rep(' ', vim.bo.tabstop)))
end

--- Hide the suggestion of `bufnr` and forget it (and the answer's alternatives).
function M.clear(bufnr)
  local st = state.buffers[bufnr]
  if st and st.suggestion then
    pcall(api.nvim_buf_del_extmark, bufnr, state.ns, st.suggestion.extmark)
    st.suggestion = nil
  end
  if st then
    st.items = nil
  end
end

--- " (2/3)" after the ghost text while the answer has alternatives to cycle through, else nil.
local function counter(bufnr, s)
  local items = state.buffers[bufnr] and state.buffers[bufnr].items
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
    pcall(api.nvim__ns_set, state.ns, { wins = { win } })
  elseif api.nvim_win_add_ns then
    for _, w in ipairs(api.nvim_list_wins()) do
      if w ~= win then
        pcall(api.nvim_win_remove_ns, w, state.ns)
      end
    end
    return (pcall(api.nvim_win_add_ns, win, state.ns))
  end
  return false
end

--- Draw `s` (again, in the same extmark when it has one): first line as virtual text at the cursor, the
--- rest as virtual lines below it.
-- Placement: 'inline' where it exists (0.10+); before that, 'overlay' when the cursor is at the end of
-- the line (looks the same as inline) and 'eol' otherwise, so that the text after the cursor is never
-- hidden (the first line then shows after the end of the line).
function M.draw(bufnr, s)
  local hl = config.options.hl_group
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
    local ok, id = pcall(api.nvim_buf_set_extmark, bufnr, state.ns, row, col, opts)
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
  s.extmark = api.nvim_buf_set_extmark(bufnr, state.ns, row, col, opts)
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
function M.show(bufnr, s, items)
  M.clear(bufnr)
  state.buffers[bufnr].items = items
  s.extmark = nil -- deleted by clear() when `s` was shown before (cycling)
  s = fit(s)
  s.line = api.nvim_buf_get_lines(bufnr, s.cursor[1] - 1, s.cursor[1], false)[1] or ''
  s.nlines = api.nvim_buf_line_count(bufnr)
  state.buffers[bufnr].suggestion = s
  M.draw(bufnr, s)
end

return M
