-- :checkhealth infill — the server command, its Python, the excluded open files, and the model's state (or the
-- remote engine's).
-- Works with the 0.7 `health#report_*` functions, 0.8-0.9 `vim.health.report_*` and 0.10+ `vim.health.*`.
local M = {}

local function reporter()
  local h = vim.health or {}
  local function pick(new, old)
    if h[new] then
      return h[new]
    end
    if h['report_' .. old] then
      return h['report_' .. old]
    end
    return function(...)
      vim.fn['health#report_' .. old](...)
    end
  end
  return {
    start = pick('start', 'start'),
    ok = pick('ok', 'ok'),
    info = pick('info', 'info'),
    warn = pick('warn', 'warn'),
    error = pick('error', 'error'),
  }
end

--- `cmd` up to (not including) the `serve` subcommand and its options.
local function base_command(cmd)
  local out = {}
  for _, part in ipairs(cmd) do
    if part == 'serve' then
      break
    end
    table.insert(out, part)
  end
  return out
end

--- The Python interpreter that runs `exe`: itself, or the `#!` line of a console script.
local function interpreter(exe)
  local name = vim.fn.fnamemodify(exe, ':t')
  if name:match('^python[%d.]*$') then
    return exe
  end
  local ok, first = pcall(vim.fn.readfile, exe, '', 1)
  if ok and first[1] and first[1]:sub(1, 2) == '#!' then
    local words = vim.split(vim.trim(first[1]:sub(3)), '%s+')
    if words[1] and words[1]:match('/env$') and words[2] then
      return vim.fn.exepath(words[2])
    end
    return words[1]
  end
  return nil
end

local function run(argv)
  local out = vim.fn.system(argv)
  return vim.v.shell_error == 0, vim.trim(out or '')
end

local PYTHON_PROBE = [[
import importlib.metadata as md, sys
print('Python ' + sys.version.split()[0])
for name in ('pygls', 'llama-cpp-python'):
    try:
        print(name + ' ' + md.version(name))
    except md.PackageNotFoundError:
        print(name + ' missing')
]]

function M.check()
  local r = reporter()
  local infill = require('infill')
  local client = require('infill.client')
  local ghost = require('infill.ghost')
  local config = require('infill.config')
  local opts = config.options or config.resolve({})

  r.start('infill: Neovim')
  local v = vim.version and vim.version() or nil
  local version = v and string.format('%d.%d.%d', v.major, v.minor, v.patch) or 'unknown'
  if not config.options then
    r.warn("setup() was not called: require('infill').setup({...}) starts the server")
  end
  if config.options and ghost.native then
    r.ok('Neovim ' .. version .. ': ghost text by vim.lsp.inline_completion')
  else
    r.ok('Neovim ' .. version .. ': ghost text by the infill renderer (native needs 0.12+)')
  end

  r.start('infill: server')
  local install = require('infill.install')
  if install.running then
    r.info('an :InfillInstall is running')
  elseif install.last and not install.last.ok then
    r.error('the last :InfillInstall failed at `' .. install.last.step .. '`:\n'
      .. table.concat(vim.list_slice(install.last.output, math.max(1, #install.last.output - 15)), '\n'))
  end
  r.info('managed virtualenv (:InfillInstall): ' .. install.venv()
    .. (install.installed() and ' (installed)' or ' (not installed)'))
  local cmd = opts.server.cmd
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    r.error('server command not found: ' .. cmd[1], {
      ':InfillInstall installs the server into ' .. install.venv() .. ' (python3 -m venv, then pip install '
        .. (install.repo_root() or 'infill-ls') .. '); setup() then finds it without a server.cmd',
      "or set server.cmd = { '/path/to/python', '-m', 'infill_ls' }",
    })
    return
  end
  r.ok('server command: ' .. table.concat(cmd, ' ') .. ' (' .. exe .. ')')
  local argv = base_command(cmd)
  argv[1] = exe
  table.insert(argv, '--version')
  local ok, out = run(argv)
  if ok then
    r.ok('server version: ' .. out)
  else
    r.error('`' .. table.concat(argv, ' ') .. '` failed: ' .. out)
  end

  local py = interpreter(exe)
  if not py or py == '' then
    r.warn('could not tell which Python runs ' .. exe)
  else
    local pok, pout = run({ py, '-c', PYTHON_PROBE })
    if pok then
      for _, line in ipairs(vim.split(pout, '\n')) do
        if line:match(' missing$') then
          r.error(line .. ' (in ' .. py .. ')')
        else
          r.ok(line .. (line:match('^Python') and (' (' .. py .. ')') or ''))
        end
      end
    else
      r.error('could not run ' .. py .. ': ' .. pout)
    end
  end

  r.start('infill: messages')
  local notes = require('infill.notify').history
  if #notes == 0 then
    r.ok('none from the plugin or the server')
  end
  for _, note in ipairs(notes) do
    (note.level >= vim.log.levels.WARN and r.warn or r.info)(note.text)
  end

  -- Open files the server never completes in, reads for context or sends to the model (infill.exclude).
  local excluded = client.excluded_files(client.get() and client.last_status or nil)
  if #excluded > 0 then
    r.start('infill: excluded files')
    for _, file in ipairs(excluded) do
      r.info('excluded: ' .. file.name .. ': ' .. file.reason)
    end
    r.info('excluded files are never completed, read for context or sent to the model; ' .. infill.EXCLUDE_HINT)
  end

  r.start('infill: model')
  local url = (opts.settings.engine or {}).url
  url = type(url) == 'string' and url or ''
  if url ~= '' then
    r.info('infill.engine.url: ' .. url .. ' (the model runs on that inference server; its API key, if any, comes'
      .. ' from INFILL_API_KEY in the server\'s environment)')
  end
  local path = (opts.settings.model or {}).path
  if url == '' and type(path) == 'string' and path ~= '' then
    if vim.fn.filereadable(vim.fn.expand(path)) == 1 then
      r.ok('infill.model.path: ' .. path)
    else
      r.error('infill.model.path is not a readable file: ' .. path)
    end
  end
  if client.failure then
    r.error(client.failure, { ':InfillRestart starts it again; :lua vim.lsp.set_log_level("debug") and the'
      .. ' server lines in :lua print(vim.lsp.get_log_path()) tell why' })
  end
  if not client.get() then
    r.info('no server running in this session: open a file of a configured filetype to start it')
    return
  end
  local s = client.last_status
  if not s then
    r.info('the server has not reported its state yet')
    return
  end
  local model = (s.model ~= nil and s.model ~= vim.NIL) and tostring(s.model) or '-'
  local message = (s.message ~= nil and s.message ~= vim.NIL) and tostring(s.message) or ''
  local engine = client.engine_text(s)
  if (engine or url ~= '') and s.state == 'error' then
    -- The server retries by itself and says `ready` again once the inference server answers.
    r.warn((engine or ('remote: ' .. url)) .. ': ' .. message, {
      'check that the inference server runs and that the server reaches infill.engine.url',
      'a server that wants a key: set INFILL_API_KEY in the environment the language server starts in',
    })
    return
  end
  if engine then
    r.info(engine .. (s.state == 'ready' and '' or (': ' .. tostring(s.state))))
  end
  if s.state == 'ready' and (message:find('prefix-only', 1, true) or message:find('FIM none', 1, true)) then
    r.warn('model ' .. model .. ' is ready, but has no FIM tokens: it completes from the text before the cursor'
      .. ' only, ignoring the text after it: ' .. message, {
      'use a model with FIM tokens (CodeLlama, StarCoder, DeepSeek-Coder, Qwen2.5-Coder, Codestral)',
    })
  elseif s.state == 'ready' then
    r.ok('model ' .. model .. ' is ready' .. (message ~= '' and (': ' .. message) or ''))
  elseif s.state == 'loading' then
    r.info('model ' .. model .. ' is loading: ' .. message)
  elseif s.state == 'disabled' then
    r.warn('completions are disabled (infill.completion.enable or :InfillToggle)')
  else
    r.error('model ' .. model .. ': ' .. s.state .. ': ' .. message)
  end
  -- The files whose KV state the server keeps (infill.completion.warmMemoryMb).
  local warm = client.warm_text(s)
  if warm then
    r.info(warm .. '; switching back to one of them costs only what changed in it')
  end
end

return M
