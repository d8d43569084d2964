-- The infill-ls language client: one client for all buffers, settings, and `infill/status`.
--
-- Neovim 0.8+ starts and reuses it with vim.lsp.start(); 0.7 has only vim.lsp.start_client() and
-- vim.lsp.buf_attach_client(), so there the client id is kept here and reused.
-- Its workspace folders are the projects of its buffers (infill.root): the first buffer's starts it, and each
-- buffer of another project adds its own.
local config = require('infill.config')
local notify = require('infill.notify')
local root = require('infill.root')

local M = {}

M.name = 'infill'

---@type integer|nil id of the running client
M.client_id = nil
---@type table|nil the last `infill/status` params from the server
M.last_status = nil
---@type fun(client: table, bufnr: integer)|nil called once per attached buffer
M.on_buffer = nil
---@type fun(status: table)|nil called on every `infill/status`
M.on_status = nil
---@type boolean whether the user was told that server.cmd is missing
M.warned_missing = false
---@type string|nil why the last server ended when nobody stopped it (statusline `error`), until one starts
M.failure = nil

local stopped = {} ---@type table<integer, boolean> clients stopped on purpose (their exit is no failure)

--- Call a client method on any version: 0.11+ wants `client:method()`, 0.7-0.10 `client.method()`.
function M.call(client, method, ...)
  if vim.fn.has('nvim-0.11') == 1 then
    return client[method](client, ...)
  end
  return client[method](...)
end

local function settings_payload()
  return { infill = config.as_json_object(config.options.settings) }
end

local function given(v)
  return v ~= nil and v ~= vim.NIL and v ~= ''
end

local API_NAMES = { ['llama.cpp'] = 'llama.cpp', openai = 'OpenAI-style server' }

--- "remote: llama.cpp at 127.0.0.1:8080 (model)" when the status says the model runs on an inference
--- server (`engine.kind = "remote"`), else nil. "server at host" while the server's API is not known.
---@param status table|nil an `infill/status` payload
---@return string|nil
function M.engine_text(status)
  local engine = type(status) == 'table' and status.engine or nil
  if type(engine) ~= 'table' or engine.kind ~= 'remote' then
    return nil
  end
  local host = given(engine.host) and tostring(engine.host) or (given(engine.url) and tostring(engine.url) or '?')
  local model = given(engine.model) and engine.model or status.model
  return string.format('remote: %s at %s%s', API_NAMES[engine.api] or 'server', host,
    given(model) and (' (' .. tostring(model) .. ')') or '')
end

local function mib(bytes)
  return string.format('%.1f MiB', bytes / (1024 * 1024))
end

--- "warm files: 2 (812 tokens, 18.4 MiB of a 512.0 MiB budget)": the documents whose KV state the server keeps
--- (the status's `warm`), or nil when the status has none or it is all zeros (a remote engine).
---@param status table|nil an `infill/status` payload
---@return string|nil
function M.warm_text(status)
  local warm = type(status) == 'table' and status.warm or nil
  if type(warm) ~= 'table' or type(warm.files) ~= 'number' then
    return nil
  end
  local function num(v)
    return type(v) == 'number' and v or 0
  end
  if warm.files == 0 and num(warm.budgetBytes) == 0 then
    return nil -- a remote engine: the inference server keeps the states
  end
  local budget = num(warm.budgetBytes) > 0 and (' of a ' .. mib(warm.budgetBytes) .. ' budget') or ''
  return string.format('warm files: %d (%d tokens, %s%s)', warm.files, num(warm.tokens), mib(num(warm.bytes)), budget)
end

--- Why the server excludes buffer `bufnr` (`infill.exclude`, a project's `.infillignore`): the reason in the
--- status's `excluded` map under the URI the client sent in didOpen, or nil when it is not excluded.
---@param status table|nil an `infill/status` payload
---@param bufnr integer
---@return string|nil
function M.excluded_reason(status, bufnr)
  local excluded = type(status) == 'table' and status.excluded or nil
  if type(excluded) ~= 'table' then
    return nil
  end
  local reason = excluded[vim.uri_from_bufnr(bufnr)]
  if type(reason) ~= 'string' then
    return nil
  end
  return reason ~= '' and reason or 'excluded'
end

--- The excluded open documents of a status: { { name = file name (or URI), reason = why } }, sorted by name.
---@param status table|nil
---@return table[]
function M.excluded_files(status)
  local out = {}
  local excluded = type(status) == 'table' and status.excluded or nil
  if type(excluded) ~= 'table' then
    return out
  end
  for uri, reason in pairs(excluded) do
    if type(uri) == 'string' and type(reason) == 'string' then
      local ok, name = pcall(vim.uri_to_fname, uri)
      table.insert(out, { name = ok and name or uri, reason = reason ~= '' and reason or 'excluded' })
    end
  end
  table.sort(out, function(a, b)
    return a.name < b.name
  end)
  return out
end

local handlers = {}
-- The handlers of the client, by method (tests feed `infill/status` payloads to them).
M.handlers = handlers

handlers['infill/status'] = function(_, params, _)
  if type(params) ~= 'table' then
    return
  end
  M.last_status = params
  if M.on_status then
    M.on_status(params)
  end
  pcall(vim.cmd, 'redrawstatus')
  pcall(vim.api.nvim_exec_autocmds, 'User', { pattern = 'InfillStatus', modeline = false })
end

handlers['window/showMessage'] = notify.show_message

-- The server reads its settings with workspace/configuration (section `infill`) when it can.
handlers['workspace/configuration'] = function(_, params, _)
  local tree = settings_payload()
  local answer = {}
  for _, item in ipairs((params or {}).items or {}) do
    local value = tree
    local section = item.section or ''
    if section ~= '' then
      for _, part in ipairs(vim.split(section, '.', { plain = true })) do
        value = type(value) == 'table' and value[part] or nil
      end
    end
    table.insert(answer, value == nil and vim.NIL or value)
  end
  return answer
end

local function root_of(bufnr)
  return root.of_buffer(bufnr, config.options.workspace.root_markers)
end

--- Announce `dir` to the server as a workspace folder, unless the client has it. Only to this client
--- (vim.lsp.buf.add_workspace_folder() would tell every client of the buffer); folders are never removed.
---@param client table
---@param dir string
function M.add_folder(client, dir)
  local uri = vim.uri_from_fname(dir)
  for _, folder in ipairs(client.workspace_folders or {}) do
    if folder.uri == uri then
      return
    end
  end
  local folder = { uri = uri, name = dir }
  M.call(client, 'notify', 'workspace/didChangeWorkspaceFolders', { event = { added = { folder }, removed = {} } })
  client.workspace_folders = client.workspace_folders or {}
  table.insert(client.workspace_folders, folder)
end

local function client_config(bufnr)
  local opts = config.options
  return {
    name = M.name,
    cmd = opts.server.cmd,
    cmd_env = opts.server.cmd_env,
    root_dir = root_of(bufnr),
    init_options = settings_payload(),
    settings = settings_payload(),
    handlers = handlers,
    on_init = function(client)
      M.failure = nil
      -- 0.7 never pushes settings by itself; newer versions may, and a second copy is harmless.
      M.call(client, 'notify', 'workspace/didChangeConfiguration', { settings = settings_payload() })
    end,
    on_attach = function(client, bufnr)
      local dir = root_of(bufnr)
      if dir then
        M.add_folder(client, dir)
      end
      if M.on_buffer then
        M.on_buffer(client, bufnr)
      end
    end,
    on_exit = function(code, signal, client_id)
      if M.client_id == client_id then
        M.client_id = nil
      end
      if not stopped[client_id] and (code ~= 0 or (signal or 0) ~= 0) then
        M.failure = string.format('the server exited with code %d%s', code,
          (signal or 0) ~= 0 and string.format(' (signal %d)', signal) or '')
        -- Neovim says so itself ("Client infill quit with exit code..."): a second message would prompt.
        notify.note('infill: ' .. M.failure, vim.log.levels.DEBUG)
      end
      stopped[client_id] = nil
      vim.schedule(function()
        pcall(vim.cmd, 'redrawstatus')
      end)
    end,
  }
end

--- Start the server if needed and attach it to `bufnr`.
---@param bufnr integer
function M.attach(bufnr)
  local exe = config.options.server.cmd[1]
  if vim.fn.executable(exe) ~= 1 then
    if not M.warned_missing then
      M.warned_missing = true
      local msg = 'infill: server command not found: ' .. exe .. ' (see :checkhealth infill)'
      notify.note(msg, vim.log.levels.WARN)
    end
    return
  end
  if vim.lsp.start then
    M.client_id = vim.lsp.start(client_config(bufnr), {
      bufnr = bufnr,
      reuse_client = function(client, _)
        return client.name == M.name and not M.call(client, 'is_stopped')
      end,
    })
    return
  end
  local client = M.client_id and vim.lsp.get_client_by_id(M.client_id)
  if not client or client.is_stopped() then
    M.client_id = vim.lsp.start_client(client_config(bufnr))
  end
  if M.client_id then
    vim.lsp.buf_attach_client(bufnr, M.client_id)
  end
end

---@return table|nil the running client
function M.get()
  local client = M.client_id and vim.lsp.get_client_by_id(M.client_id)
  if client and not (client.is_stopped and M.call(client, 'is_stopped')) then
    return client
  end
  return nil
end

--- Stop the running client and its server (attach() starts a new one).
function M.stop()
  local client = M.get()
  M.client_id = nil
  M.last_status = nil
  M.warned_missing = false
  M.failure = nil
  if client then
    stopped[client.id] = true
    M.call(client, 'stop')
  end
end

--- Send changed settings to the running server.
function M.push_settings()
  local client = M.get()
  if client then
    M.call(client, 'notify', 'workspace/didChangeConfiguration', { settings = settings_payload() })
  end
end

return M
