-- The project root of a buffer: the workspace folder the client announces for it, inside which the server
-- may read the files a buffer's imports name.
--
-- Neovim 0.7 has no vim.fs, so the upward search is a loop over vim.loop.fs_stat.
local M = {}

--- The nearest directory from `dir` upward that holds one of `markers` (a file or a directory), or nil.
---@param dir string an absolute directory
---@param markers string[] names such as `.git` or `pyproject.toml`
---@return string|nil
function M.find(dir, markers)
  while true do
    for _, marker in ipairs(markers) do
      if vim.loop.fs_stat(dir .. '/' .. marker) then
        return dir
      end
    end
    local up = vim.fn.fnamemodify(dir, ':h')
    if up == dir then
      return nil
    end
    dir = up
  end
end

--- Whether `path` lies under the directory `dir`.
local function under(path, dir)
  if dir:sub(-1) == '/' then -- the file system's root
    return path:sub(1, #dir) == dir
  end
  return path:sub(1, #dir + 1) == dir .. '/'
end

--- The root of a file: the nearest ancestor directory that holds a marker; without one, `cwd` when the file lies
--- under it, else the file's own directory.
---@param path string the file's absolute path
---@param cwd string|nil Neovim's working directory
---@param markers string[]
---@return string
function M.of_file(path, cwd, markers)
  local dir = vim.fn.fnamemodify(path, ':h')
  return M.find(dir, markers) or (cwd and under(path, cwd) and cwd) or dir
end

--- The root of a buffer: the root of its file, or the working directory for a buffer without one (no name,
--- `term://` and other schemes). nil only when the working directory is gone.
---@param bufnr integer
---@param markers string[]
---@return string|nil
function M.of_buffer(bufnr, markers)
  local cwd = vim.loop.cwd()
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name:match('^file://') then
    name = vim.uri_to_fname(name)
  end
  if name == '' or name:match('^%a[%w+.-]*://') then
    return cwd
  end
  return M.of_file(vim.fn.fnamemodify(name, ':p'), cwd, markers)
end

return M
