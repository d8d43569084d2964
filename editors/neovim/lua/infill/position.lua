-- LSP positions <-> buffer byte columns, in the client's offset encoding.
--
-- LSP `character` counts code units of the negotiated encoding (utf-16 on Neovim 0.7, which does not
-- negotiate; utf-8 or utf-16 on 0.11+). Buffer columns are bytes. Never mix the two.
local M = {}

local new_api = vim.fn.has('nvim-0.11') == 1

--- Byte column -> LSP character on `line`.
---@param line string
---@param byte_col integer 0-based byte column
---@param encoding string 'utf-8'|'utf-16'|'utf-32'
---@return integer
function M.to_lsp(line, byte_col, encoding)
  byte_col = math.max(0, math.min(byte_col, #line))
  if encoding == 'utf-8' then
    return byte_col
  end
  if new_api then
    return vim.str_utfindex(line, encoding, byte_col, false)
  end
  local ok, utf32, utf16 = pcall(vim.str_utfindex, line, byte_col)
  if not ok then
    -- byte_col inside a multibyte character: count the whole string up to it.
    utf32, utf16 = vim.str_utfindex(line:sub(1, byte_col))
  end
  return encoding == 'utf-32' and utf32 or utf16
end

--- LSP character -> byte column on `line` (clamped to the line).
---@param line string
---@param character integer
---@param encoding string 'utf-8'|'utf-16'|'utf-32'
---@return integer 0-based byte column
function M.to_byte(line, character, encoding)
  if character <= 0 then
    return 0
  end
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  if new_api then
    return vim.str_byteindex(line, encoding, character, false)
  end
  local ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  if not ok then
    return #line
  end
  return col
end

--- The LSP position of a (0-based row, byte column) in `bufnr`.
---@return { line: integer, character: integer }
function M.lsp_position(bufnr, row, col, encoding)
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  return { line = row, character = M.to_lsp(line, col, encoding) }
end

--- A LSP range -> 0-based { start_row, start_col, end_row, end_col } in bytes.
---@return integer[]
function M.byte_range(bufnr, range, encoding)
  local function conv(pos)
    local line = vim.api.nvim_buf_get_lines(bufnr, pos.line, pos.line + 1, false)[1] or ''
    return M.to_byte(line, pos.character, encoding)
  end
  return { range.start.line, conv(range.start), range['end'].line, conv(range['end']) }
end

return M
