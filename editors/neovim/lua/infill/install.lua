-- :InfillInstall: the server in a virtualenv that the plugin manages, stdpath('data')/infill/venv.
--
-- `python3 -m venv`, then `pip install` of the plugin's own repository (the server's pyproject.toml is two
-- levels above editors/neovim) or of a given pip requirement. Runs as jobs: typing goes on meanwhile.
local notify = require('infill.notify')

local M = {}

---@type boolean whether an install is running
M.running = false
---@type { ok: boolean, step: string, output: string[] }|nil how the last install ended
M.last = nil

local is_windows = vim.fn.has('win32') == 1

--- The managed virtualenv.
function M.venv()
  return vim.fn.stdpath('data') .. '/infill/venv'
end

local function bin(name)
  return M.venv() .. (is_windows and '/Scripts/' .. name .. '.exe' or '/bin/' .. name)
end

--- The server's command in the managed virtualenv.
function M.server_exe()
  return bin('infill-ls')
end

function M.installed()
  return vim.fn.executable(M.server_exe()) == 1
end

--- The repository the plugin lives in, when it holds the server (its pyproject.toml), else nil.
function M.repo_root()
  local here = debug.getinfo(1, 'S').source:sub(2) -- <root>/editors/neovim/lua/infill/install.lua
  local root = vim.fn.fnamemodify(here, ':p:h:h:h:h:h')
  if vim.fn.filereadable(root .. '/pyproject.toml') == 1 then
    return root
  end
  return nil
end

--- server.cmd when none is configured: the managed virtualenv's server once installed, else `infill-ls`.
function M.default_cmd()
  return { M.installed() and M.server_exe() or 'infill-ls' }
end

---@class infill.InstallOptions
---@field spec string|nil       what pip installs (any requirement: a path, `infill-ls==0.1.0`, a URL);
---                             default: the plugin's repository
---@field python string|nil     the Python that makes the virtualenv (3.11+); default `python3`
---@field sync boolean|nil      wait until done (for a plugin manager's build step)
---@field on_done fun(ok: boolean)|nil

--- Install (or upgrade) the server into M.venv(). Returns false when it could not start.
---@param opts infill.InstallOptions|nil
---@return boolean
function M.install(opts)
  opts = opts or {}
  if M.running then
    notify.note('infill: an install is already running', vim.log.levels.WARN)
    return false
  end
  local spec = opts.spec or M.repo_root()
  if not spec then
    notify.note('infill: the plugin is not inside the infill-ls repository: give a pip requirement,'
      .. ' e.g. :InfillInstall infill-ls', vim.log.levels.ERROR)
    return false
  end
  local venv = M.venv()
  local steps = {
    { opts.python or 'python3', '-m', 'venv', venv },
    { bin('python'), '-m', 'pip', 'install', '--upgrade', spec },
  }
  local output = {}
  local function collect(_, data)
    for _, line in ipairs(data or {}) do
      if line ~= '' then
        table.insert(output, line)
      end
    end
  end
  local function finish(ok, step)
    M.running = false
    M.last = { ok = ok, step = table.concat(step or {}, ' '), output = output }
    if ok then
      notify.note('infill: server installed in ' .. venv, vim.log.levels.INFO)
    else
      notify.note('infill: install failed at `' .. M.last.step .. '` (:checkhealth infill shows its output)',
        vim.log.levels.WARN)
    end
    if opts.on_done then
      opts.on_done(ok)
    end
  end
  local function run(i)
    if i > #steps then
      return finish(true)
    end
    local ok, job = pcall(vim.fn.jobstart, steps[i], {
      on_stdout = collect,
      on_stderr = collect,
      on_exit = function(_, code)
        if code == 0 then
          run(i + 1)
        else
          finish(false, steps[i])
        end
      end,
    })
    if not ok or job <= 0 then
      finish(false, steps[i])
    end
  end
  M.running = true
  notify.note('infill: installing the server into ' .. venv .. ' (pip install ' .. spec .. ')', vim.log.levels.INFO)
  vim.fn.mkdir(vim.fn.fnamemodify(venv, ':h'), 'p')
  run(1)
  if opts.sync then
    vim.wait(30 * 60 * 1000, function()
      return not M.running
    end, 200)
  end
  return true
end

return M
