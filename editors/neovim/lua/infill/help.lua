-- :help infill needs a `tags` file next to doc/infill.txt. Plugin managers run :helptags; a plain
-- clone added to 'runtimepath' (the README's install) has none, so setup() makes it when it can.
local M = {}

--- The plugin's doc directory (next to lua/), or nil when this file was not loaded from disk.
function M.doc_dir()
  local source = debug.getinfo(1, 'S').source
  if source:sub(1, 1) ~= '@' then
    return nil
  end
  return vim.fn.fnamemodify(source:sub(2), ':p:h:h:h') .. '/doc'
end

--- Run :helptags on the doc directory when its `tags` file is missing and the directory is writable.
--- Returns whether the tags file exists afterwards.
---@return boolean
function M.ensure_tags()
  local doc = M.doc_dir()
  if not doc or vim.fn.filereadable(doc .. '/infill.txt') == 0 then
    return false
  end
  if vim.fn.filereadable(doc .. '/tags') == 1 then
    return true
  end
  if vim.fn.filewritable(doc) == 2 then
    pcall(vim.cmd, 'silent helptags ' .. vim.fn.fnameescape(doc))
  end
  return vim.fn.filereadable(doc .. '/tags') == 1
end

return M
