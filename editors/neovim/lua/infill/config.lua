-- Options of require('infill').setup(): defaults, validation and merging.
--
-- `settings` is the server's own `infill.*` tree (docs/protocol.md). It is sent as given: keys left out
-- take the server's defaults, and the server names any bad key in a message. `settings.engine` (where
-- the model runs: in the server, or on a shared inference server) has its defaults here and is checked
-- at setup(). Everything else here is about the Neovim client.
local M = {}

---@class infill.Keymaps
---@field accept string|false        accept the whole suggestion
---@field accept_word string|false   accept up to the end of the next word
---@field accept_line string|false   accept up to and including the next line break
---@field dismiss string|false       hide the suggestion
---@field trigger string|false       ask for a suggestion now (an Invoked request)
---@field next string|false          show the next alternative (asks for them when there are none)
---@field prev string|false          show the previous alternative

---@class infill.Engine              `infill.engine.*`: a remote inference server (docs/protocol.md)
---@field url string                 '' = the model runs in the server; 'http://host:port' = llama-server, vLLM, ...
---@field api string                 'auto' (ask the server), 'llama.cpp' or 'openai'
---@field model string               the model name an OpenAI-style server wants; '' = the first it lists
---@field timeoutMs integer          connect/read timeout of one request, 100..600000
---@field speculate boolean          compute the next completion ahead of time on the shared server too
---@field caFile string              a PEM file of the private CA that signed an https server's certificate; '' = none

---@class infill.Workspace
---@field root_markers string[]      a buffer's project is the nearest folder above its file holding one of these

---@class infill.Options
---@field server { cmd: string[], cmd_env: table|nil }
---@field settings table             the `infill.*` tree, without the `infill` key; `settings.engine`: infill.Engine;
---                                  `settings.completion.alternatives`: most items of an Invoked request, 1..10 (server default 3);
---                                  `settings.completion.warmMemoryMb`: memory for the kept files' KV states (-1 auto, 0 current only);
---                                  `settings.completion.trigger` / `.triggerLanguages`: 'auto' or 'manual' (trigger key only),
---                                  overall / per language id; `settings.completion.minConfidence`: hide weaker automatic
---                                  suggestions (vim.NIL: off); `settings.stats.enable`: local acceptance statistics;
---                                  `settings.exclude`: glob patterns of files never completed in nor used as context
---@field filetypes string[]|table<string, boolean>  a list of filetypes to attach to (`{ '*' }`: every file
---                                  buffer), or a map `{ yaml = false, ['*'] = true }` (`'*'`: the others)
---@field debounce_ms integer        client-side wait after a keystroke before asking (own renderer)
---@field native boolean|nil         use vim.lsp.inline_completion (0.12+); nil = when available
---@field keymaps infill.Keymaps
---@field hl_group string            highlight group of the ghost text
---@field workspace infill.Workspace the workspace folders announced to the server (the buffers' projects)

--- The options of the last setup() (nil before it). Every module reads them here; none keeps a copy.
---@type infill.Options|nil
M.options = nil

M.defaults = {
  server = {
    cmd = { 'infill-ls' },
    cmd_env = nil,
  },
  settings = {
    -- The API key of a remote engine is never a setting: the server reads INFILL_API_KEY from its
    -- environment (server.cmd_env, or the environment Neovim was started in).
    engine = { url = '', api = 'auto', model = '', timeoutMs = 30000, speculate = false, caFile = '' },
  },
  filetypes = {
    'c', 'cpp', 'cs', 'css', 'go', 'html', 'java', 'javascript', 'javascriptreact', 'json', 'kotlin',
    'lua', 'markdown', 'php', 'python', 'ruby', 'rust', 'scala', 'sh', 'sql', 'swift', 'toml',
    'typescript', 'typescriptreact', 'vim', 'yaml', 'zig',
  },
  debounce_ms = 75,
  native = nil,
  keymaps = {
    accept = '<Tab>',
    accept_word = '<M-Right>',
    accept_line = '<M-Down>',
    dismiss = '<C-]>',
    trigger = '<M-\\>',
    next = '<M-]>',
    prev = '<M-[>',
  },
  hl_group = 'InfillSuggestion',
  workspace = { root_markers = { '.git' } },
}

local function is_list_of_strings(v)
  if type(v) ~= 'table' then
    return false
  end
  for _, s in ipairs(v) do
    if type(s) ~= 'string' then
      return false
    end
  end
  return true
end

local function is_filetype_map(v)
  if type(v) ~= 'table' or v[1] ~= nil then
    return false
  end
  for k, on in pairs(v) do
    if type(k) ~= 'string' or type(on) ~= 'boolean' then
      return false
    end
  end
  return true
end

local function filetypes_ok(v)
  return is_list_of_strings(v) or is_filetype_map(v)
end

local function root_markers(v)
  if type(v) ~= 'table' then
    return false
  end
  local count = 0
  for _ in pairs(v) do
    count = count + 1
  end
  for i = 1, count do
    if type(v[i]) ~= 'string' or v[i] == '' then
      return false
    end
  end
  return true
end

local function key_or_false(v)
  return v == false or type(v) == 'string'
end

local ENGINE_APIS = { 'auto', 'llama.cpp', 'openai' }

local function engine_url(v)
  return v == '' or (type(v) == 'string' and v:match('^https?://[^%s/]+') ~= nil)
end

local function engine_api(v)
  return vim.tbl_contains(ENGINE_APIS, v)
end

local function alternatives(v)
  return v == nil or (type(v) == 'number' and v == math.floor(v) and v >= 1 and v <= 10)
end

local function patterns(v)
  return v == nil or is_list_of_strings(v)
end

local TRIGGERS = { 'auto', 'manual' }

local function trigger(v)
  return v == nil or vim.tbl_contains(TRIGGERS, v)
end

local function trigger_languages(v)
  if v == nil then
    return true
  end
  if type(v) ~= 'table' or v[1] ~= nil then
    return false
  end
  for k, mode in pairs(v) do
    if type(k) ~= 'string' or not vim.tbl_contains(TRIGGERS, mode) then
      return false
    end
  end
  return true
end

local function warm_memory(v)
  return v == nil or (type(v) == 'number' and v == math.floor(v) and v >= -1)
end

local function min_confidence(v)
  return v == nil or v == vim.NIL or (type(v) == 'number' and v <= 0)
end

local function optional_boolean(v)
  return v == nil or type(v) == 'boolean'
end

local function engine_timeout(v)
  return type(v) == 'number' and v == math.floor(v) and v >= 100 and v <= 600000
end

-- vim.validate(name, value, validator, optional, message) on 0.11+, the table form before.
local function check(name, value, validator, optional, message)
  if vim.fn.has('nvim-0.11') == 1 then
    vim.validate(name, value, validator, optional or message)
  else
    vim.validate({ [name] = { value, validator, optional or message } })
  end
end

--- Merge user options over the defaults and validate them (errors name the bad option).
---@param opts table|nil
---@return infill.Options
function M.resolve(opts)
  opts = opts or {}
  check('opts', opts, 'table')
  local cfg = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  -- Lists replace, they are not merged index by index.
  if opts.filetypes then
    cfg.filetypes = opts.filetypes
  end
  if type(opts.workspace) == 'table' and opts.workspace.root_markers ~= nil then
    cfg.workspace.root_markers = opts.workspace.root_markers
  end
  if opts.server and opts.server.cmd then
    cfg.server.cmd = opts.server.cmd
  else
    cfg.server.cmd = require('infill.install').default_cmd() -- :InfillInstall's, else infill-ls on PATH
  end
  check('server', cfg.server, 'table')
  check('server.cmd', cfg.server.cmd, is_list_of_strings, false, 'list of strings')
  check('server.cmd_env', cfg.server.cmd_env, 'table', true)
  check('settings', cfg.settings, 'table')
  check('settings.engine', cfg.settings.engine, 'table')
  local engine = cfg.settings.engine
  check('settings.engine.url', engine.url, engine_url, false, "'' or an http(s)://host:port URL")
  check('settings.engine.api', engine.api, engine_api, false, "'auto', 'llama.cpp' or 'openai'")
  check('settings.engine.model', engine.model, 'string')
  check('settings.engine.timeoutMs', engine.timeoutMs, engine_timeout, false, 'an integer from 100 to 600000')
  check('settings.engine.speculate', engine.speculate, 'boolean')
  check('settings.engine.caFile', engine.caFile, 'string')
  check('settings.completion', cfg.settings.completion, 'table', true)
  local completion = cfg.settings.completion or {}
  check('settings.completion.alternatives', completion.alternatives, alternatives, false, 'an integer from 1 to 10')
  check('settings.completion.warmMemoryMb', completion.warmMemoryMb, warm_memory, false,
    'an integer: -1 (sized from the model), 0 (the current file only) or megabytes')
  check('settings.completion.trigger', completion.trigger, trigger, false, "'auto' or 'manual'")
  check('settings.completion.triggerLanguages', completion.triggerLanguages, trigger_languages, false,
    "a map of language id to 'auto' or 'manual'")
  check('settings.completion.minConfidence', completion.minConfidence, min_confidence, false,
    'a mean log-probability (a number <= 0) or vim.NIL (off)')
  check('settings.stats', cfg.settings.stats, 'table', true)
  check('settings.stats.enable', (cfg.settings.stats or {}).enable, optional_boolean, false, 'a boolean')
  check('settings.exclude', cfg.settings.exclude, patterns, false, 'a list of glob patterns')
  check('filetypes', cfg.filetypes, filetypes_ok, false, 'list of strings or map of filetype to boolean')
  check('debounce_ms', cfg.debounce_ms, 'number')
  check('native', cfg.native, 'boolean', true)
  check('keymaps', cfg.keymaps, 'table')
  for _, key in ipairs({ 'accept', 'accept_word', 'accept_line', 'dismiss', 'trigger', 'next', 'prev' }) do
    check('keymaps.' .. key, cfg.keymaps[key], key_or_false, false, 'key or false')
  end
  check('hl_group', cfg.hl_group, 'string')
  check('workspace', cfg.workspace, 'table')
  check('workspace.root_markers', cfg.workspace.root_markers, root_markers, false,
    'list of file or directory names')
  if #cfg.server.cmd == 0 then
    error('infill: server.cmd must not be empty')
  end
  return cfg
end

--- The server's default of `infill.completion.triggerLanguages` (docs/protocol.md): prose asks only on the
--- trigger key.
M.TRIGGER_LANGUAGES = { markdown = 'manual', plaintext = 'manual' }

--- Whether the own back end asks by itself in a buffer of language `language` ('auto') or only on the trigger
--- key ('manual'), as the server decides it: `infill.completion.triggerLanguages` (the server's default map when
--- not set) over `infill.completion.trigger` (default 'auto'). Read at every request: setup() again applies it.
---@param settings table the `infill.*` tree (config.options.settings)
---@param language string the buffer's language id (its filetype)
---@return string 'auto'|'manual'
function M.trigger_mode(settings, language)
  local completion = type(settings) == 'table' and settings.completion or nil
  completion = type(completion) == 'table' and completion or {}
  local languages = completion.triggerLanguages
  if type(languages) ~= 'table' then
    languages = M.TRIGGER_LANGUAGES
  end
  local mode = languages[language]
  if mode == 'auto' or mode == 'manual' then
    return mode
  end
  return completion.trigger == 'manual' and 'manual' or 'auto'
end

-- Keys of the settings tree whose value is a list: an empty one stays `[]`.
local LISTS = { exclude = true }

--- A copy of a settings tree that JSON-encodes every table as an object, also empty ones
--- (vim.json turns `{}` into `[]`), lists aside (`settings.exclude`).
---@param tree table
---@return table
function M.as_json_object(tree)
  if next(tree) == nil then
    return vim.empty_dict()
  end
  local out = {}
  for k, v in pairs(tree) do
    if type(v) == 'table' and v[1] == nil and not LISTS[k] then
      v = M.as_json_object(v)
    end
    out[k] = v
  end
  return out
end

return M
