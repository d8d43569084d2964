-- Putting accepted ghost text into the buffer, for both back ends: the piece that accept-word and
-- accept-line take, and the keys that type it.
local api = vim.api
local M = {}

--- The next piece of `ghost` for accept-word / accept-line.
function M.next_piece(ghost, kind)
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

--- Insert `text` at the cursor, or replace `range` with it; put the cursor after it.
function M.put(bufnr, range, text)
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

--- Type `text` at the cursor after deleting `dels` characters right of it. The keys run after the
--- current mapping, before anything typed later ('i'), without mappings ('n').
function M.feed(text, dels)
  api.nvim_feedkeys(typed_keys(text), 'ni', true)
  if dels > 0 then
    api.nvim_feedkeys(string.rep(api.nvim_replace_termcodes('<Del>', true, false, true), dels), 'ni', false)
  end
end

return M
