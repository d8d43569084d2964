-- infill.nvim: ghost-text code completions from infill-ls, a local fill-in-the-middle model server.
--
--   require('infill').setup({ settings = { model = { path = '~/models/codellama-7b.Q4_K_M.gguf' } } })
--
-- See :help infill.
local config = require('infill.config')
local client = require('infill.client')
local focus = require('infill.focus')
local ghost = require('infill.ghost')
local notify = require('infill.notify')
local help = require('infill.help')
local install = require('infill.install')
local keymaps = require('infill.keymaps')

local api = vim.api
local M = {}

local function wanted(bufnr)
  if vim.bo[bufnr].buftype ~= '' then
    return false
  end
  local ft = vim.bo[bufnr].filetype
  local fts = config.options.filetypes
  if fts[1] == nil then -- a map: { yaml = false, ['*'] = true }
    local on = fts[ft]
    if on == nil then
      on = fts['*']
    end
    return on == true
  end
  for _, f in ipairs(fts) do
    if f == '*' or f == ft then
      return true
    end
  end
  return false
end

local function attach(bufnr)
  if api.nvim_buf_is_valid(bufnr) and wanted(bufnr) then
    client.attach(bufnr)
  end
end

local function attach_all()
  for _, bufnr in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(bufnr) then
      attach(bufnr)
    end
  end
end

-- The server's last state, to see it go into `ready`.
local last_state = nil
-- Whether setup() named server.cmd (else it is :InfillInstall's server, or infill-ls on PATH).
local cmd_given = false

-- Not a link to Comment: 0.11's default Comment has only a gui colour, so in a 256-colour terminal ghost
-- text would look like code (or, after an open quote, like the string). DarkGray is grey 242 where Neovim
-- uses 256 colours (it does for the xterm family even when terminfo says 16) and bold black, shown grey, with
-- 8 (tests/editors/test_terminal.py reads both). `default` leaves a user's own InfillSuggestion alone.
local function define_highlight()
  vim.cmd('highlight default InfillSuggestion ctermfg=DarkGray guifg=#808080')
end

--- Configure the plugin and start the server for the configured filetypes. See |infill-setup|.
---@param opts table|nil
function M.setup(opts)
  local previous = config.options
  config.options = config.resolve(opts)
  cmd_given = type(opts) == 'table' and type(opts.server) == 'table' and opts.server.cmd ~= nil
  ghost.setup() -- the back end, chosen once

  client.on_buffer = function(c, bufnr)
    ghost.attach(c, bufnr)
    -- The buffer that started (or joined) the client is the active one: warm it now.
    vim.schedule(function()
      if api.nvim_get_current_buf() == bufnr then
        focus.send()
      end
    end)
  end
  client.on_status = function(status)
    -- Only on the way into `ready`: a status is also sent after every completion.
    if status.state == 'ready' and last_state ~= 'ready' then
      ghost.on_ready()
    end
    last_state = status.state
  end

  pcall(help.ensure_tags) -- :help infill; never a reason for setup() to fail
  focus.setup(ghost.augroup)
  define_highlight()
  api.nvim_clear_autocmds({ group = ghost.augroup, event = { 'FileType', 'ColorScheme' } })
  -- :colorscheme clears every group; a scheme that defines InfillSuggestion itself keeps its own.
  api.nvim_create_autocmd('ColorScheme', { group = ghost.augroup, pattern = '*', callback = define_highlight })
  api.nvim_create_autocmd('FileType', {
    group = ghost.augroup,
    pattern = '*',
    callback = function(args)
      attach(args.buf)
    end,
  })
  -- setup() again: a new server command restarts the server; other settings go to the running one.
  if previous and client.get() then
    if not vim.deep_equal(previous.server, config.options.server) then
      client.stop()
      last_state = nil
    else
      client.push_settings()
    end
  end
  if previous and not vim.deep_equal(previous.keymaps, config.options.keymaps) then
    keymaps.remap(previous.keymaps)
  end
  attach_all()
end

--- Install the server into the plugin's virtualenv (:InfillInstall), then start it from there unless
--- setup() named a server.cmd. See |infill-install|.
---@param opts infill.InstallOptions|nil
function M.install(opts)
  opts = vim.tbl_extend('force', {}, opts or {})
  local on_done = opts.on_done
  opts.on_done = function(ok)
    if ok and config.options and not cmd_given then
      config.options.server.cmd = install.default_cmd()
      M.restart()
    end
    if on_done then
      on_done(ok)
    end
  end
  return install.install(opts)
end

--- Stop the server and start it again with the current options (:InfillRestart).
function M.restart()
  if not config.options then
    notify.note('infill: call require("infill").setup() first', vim.log.levels.WARN)
    return
  end
  ghost.set_enabled(ghost.is_enabled()) -- drops suggestions and requests of the old server
  client.stop()
  last_state = nil
  attach_all()
end

--- The visible suggestion in the current buffer, or nil.
---@return string|nil
function M.suggestion()
  return ghost.suggestion()
end

--- Insert the visible suggestion. Returns false when none is visible.
---@return boolean
function M.accept()
  return ghost.accept('all')
end

--- Insert the next word of the visible suggestion.
function M.accept_word()
  return ghost.accept('word')
end

--- Insert the visible suggestion up to the end of its line.
function M.accept_line()
  return ghost.accept('line')
end

--- Hide the visible suggestion.
function M.dismiss()
  ghost.dismiss()
end

--- Ask for a suggestion at the cursor now (an Invoked request; the trigger key).
function M.trigger()
  ghost.trigger()
end

--- Show the next alternative of the suggestion (asking for them first when there are none).
function M.next()
  ghost.cycle(1)
end

--- Show the previous alternative of the suggestion.
function M.prev()
  ghost.cycle(-1)
end

--- Whether ghost text is on.
function M.is_enabled()
  return ghost.is_enabled()
end

--- Turn ghost text on or off (:InfillToggle). Also tells the server (infill.completion.enable), so that
--- its completion-menu item follows.
---@param on boolean|nil default: the opposite of now
function M.toggle(on)
  if not config.options then
    notify.note('infill: call require("infill").setup() first', vim.log.levels.WARN)
    return
  end
  if on == nil then
    on = not ghost.is_enabled()
  end
  ghost.set_enabled(on)
  local settings = config.options.settings
  settings.completion = settings.completion or {}
  settings.completion.enable = on
  client.push_settings()
  pcall(vim.cmd, 'redrawstatus')
  local note = 'infill: ghost text ' .. (on and 'on' or 'off')
  if on and not ghost.buffer_enabled(api.nvim_get_current_buf()) then
    note = note .. ' (but not in this buffer: vim.b.infill_enabled is false)'
  end
  api.nvim_echo({ { note } }, true, {}) -- every time (notify.note says a text once)
end

--- Show the server's local acceptance statistics for the last 7 and 30 days, per language and per model, in a
--- scratch buffer (:InfillStats).
function M.stats()
  require('infill.stats').show()
end

--- The last `infill/status` notification of the server (see docs/protocol.md), or nil.
---@return table|nil
function M.status()
  return client.last_status
end

local function state_text(s)
  if s.state == 'loading' then
    if type(s.progress) == 'number' then
      return string.format('infill: loading %d%%', s.progress)
    end
    return 'infill: loading'
  end
  if s.state == 'ready' and s.generating then
    return 'infill: …'
  end
  return 'infill: ' .. tostring(s.state)
end

--- How a user changes what is excluded (:InfillStatus, :checkhealth).
M.EXCLUDE_HINT = "settings.exclude in setup() (a pattern that starts with ! includes files again) or the"
  .. " project's .infillignore changes it"

--- A short text for the statusline, e.g. `infill: ready`, `infill: loading 40%`, `infill: …`, and with a
--- remote engine `infill: ready · remote: llama.cpp at 127.0.0.1:8080 (model)`; `infill: excluded` for a buffer
--- the server never completes in (`infill.exclude`, `.infillignore`). Empty when no server runs.
---@return string
function M.statusline()
  if not client.get() then
    return client.failure and 'infill: error' or ''
  end
  local s = client.last_status
  -- About this buffer whatever the toggle; a failing server is said first, as it needs fixing.
  if s and s.state ~= 'error' and client.excluded_reason(s, api.nvim_get_current_buf()) then
    return 'infill: excluded'
  end
  if not ghost.is_enabled() then
    return 'infill: off'
  end
  if not s then
    return 'infill: starting'
  end
  local engine = client.engine_text(s)
  return state_text(s) .. (engine and (' · ' .. engine) or '')
end

local function state_lines()
  local lines = {}
  local c = client.get()
  if not c then
    table.insert(lines, 'infill: no server running (setup() called: ' .. tostring(config.options ~= nil) .. ')')
    if client.failure then
      table.insert(lines, 'infill: ' .. client.failure .. ' (:InfillRestart starts it again)')
    end
    return lines
  end
  table.insert(lines, string.format('infill: client %d, cmd %s, encoding %s, ghost text %s (%s)', c.id,
    table.concat(config.options.server.cmd, ' '), tostring(c.offset_encoding), ghost.is_enabled() and 'on' or 'off',
    ghost.native and 'native vim.lsp.inline_completion' or 'infill renderer'))
  local folders = {}
  for _, folder in ipairs(c.workspace_folders or {}) do
    table.insert(folders, folder.name)
  end
  table.insert(lines, 'workspace folders: ' .. (#folders > 0 and table.concat(folders, ', ') or 'none'))
  local s = client.last_status
  if not s then
    table.insert(lines, 'server: no status received yet')
    return lines
  end
  local function v(x)
    return (x == nil or x == vim.NIL) and '-' or tostring(x)
  end
  table.insert(lines, string.format('server: %s%s, model %s', v(s.state), s.generating and ' (generating)' or '',
    v(s.model)))
  local engine = client.engine_text(s)
  if engine then
    table.insert(lines, 'engine: ' .. engine .. ', url ' .. v(s.engine.url))
  end
  if s.message and s.message ~= vim.NIL and s.message ~= '' then
    table.insert(lines, 'message: ' .. tostring(s.message))
  end
  local reason = client.excluded_reason(s, api.nvim_get_current_buf())
  if reason then
    table.insert(lines, 'this buffer is excluded (never completed, read for context or sent to the model): ' .. reason
      .. '; ' .. M.EXCLUDE_HINT)
  end
  for _, file in ipairs(client.excluded_files(s)) do
    table.insert(lines, 'excluded: ' .. file.name .. ': ' .. file.reason)
  end
  if s.progress ~= nil and s.progress ~= vim.NIL then
    table.insert(lines, 'progress: ' .. v(s.progress) .. '%')
  end
  local warm = client.warm_text(s)
  if warm then
    table.insert(lines, warm)
  end
  if s.lastLatencyMs ~= nil and s.lastLatencyMs ~= vim.NIL then
    table.insert(lines, string.format('last latency: %.0f ms', s.lastLatencyMs))
  end
  if type(s.stats) == 'table' then
    local parts = {}
    for _, k in ipairs({ 'requests', 'modelCalls', 'cacheHits', 'typedThrough', 'cancelled', 'warmups', 'warmupTokens' }) do
      if s.stats[k] ~= nil then
        table.insert(parts, k .. '=' .. v(s.stats[k]))
      end
    end
    table.insert(lines, 'stats: ' .. table.concat(parts, ' '))
  end
  return lines
end

--- Lines describing the client and the server's state, then the last messages (:InfillStatus).
---@return string[]
function M.status_lines()
  local lines = state_lines()
  for _, note in ipairs(notify.history) do
    table.insert(lines, 'note: ' .. note.text)
  end
  return lines
end

return M
