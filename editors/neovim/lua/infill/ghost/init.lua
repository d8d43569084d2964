-- Ghost text: the public API (show, accept, dismiss, cycle inline completions) and the attached buffers.
--
-- setup() chooses one back end, once:
--   * native (Neovim 0.12+, infill.ghost.native): vim.lsp.inline_completion asks, renders and accepts;
--   * own (Neovim 0.7+, infill.ghost.own): the plugin asks `textDocument/inlineCompletion` after typing,
--     debounced, and draws the answer itself (infill.ghost.render).
-- Both share the state (infill.ghost.state), the keys (infill.keymaps) and the way accepted text goes in
-- (infill.ghost.insert).
local config = require('infill.config')
local insert = require('infill.ghost.insert')
local keymaps = require('infill.keymaps')
local native = require('infill.ghost.native')
local notify = require('infill.notify')
local own = require('infill.ghost.own')
local state = require('infill.ghost.state')

local api = vim.api
local M = {}

M.ns = state.ns
M.augroup = state.augroup
--- Whether the native 0.12 back end is in use (chosen by setup()).
M.native = false

---@class infill.Backend  what a back end does, for one attached buffer each time
---@field attach fun(bufnr: integer)                 the buffer was just attached
---@field detach fun(bufnr: integer)                 the buffer goes: stop its work (its state is dropped after)
---@field set_enabled fun(bufnr: integer, on: boolean)  ghost text was turned on or off
---@field on_ready fun(bufnr: integer)               the server became ready (the current buffer)
---@field suggestion fun(bufnr: integer): string|nil the text shown, or nil
---@field accept fun(bufnr: integer, kind: string): boolean  'all', 'word' or 'line'; false when nothing is shown
---@field dismiss fun(bufnr: integer)
---@field trigger fun(bufnr: integer)                ask now, as an Invoked request
---@field cycle fun(bufnr: integer, delta: integer)  show another alternative

--- The back end in use, chosen by setup().
---@type infill.Backend
local backend = own

--- Choose the back end from `config.options.native`: nil = native where Neovim has it.
function M.setup()
  local use_native = config.options.native
  if use_native == nil then
    use_native = native.available()
  elseif use_native and not native.available() then
    notify.note('infill: native = true needs vim.lsp.inline_completion (Neovim 0.12+)', vim.log.levels.WARN)
    use_native = false
  end
  M.native = use_native
  backend = use_native and native or own
end

--- Whether ghost text is on (:InfillToggle).
function M.is_enabled()
  return state.enabled
end

M.buffer_enabled = state.buffer_enabled

--- The visible suggestion text in `bufnr` (default: current), or nil.
function M.suggestion(bufnr)
  return backend.suggestion(state.bufnr(bufnr))
end

function M.visible(bufnr)
  return M.suggestion(bufnr) ~= nil
end

--- Insert the suggestion (kind 'all'), its next word ('word') or the rest of its line ('line').
---@return boolean accepted
function M.accept(kind, bufnr)
  return backend.accept(state.bufnr(bufnr), kind or 'all')
end

--- Hide the suggestion and cancel the request in flight.
function M.dismiss(bufnr)
  backend.dismiss(state.bufnr(bufnr))
end

--- Turn ghost text on or off everywhere.
function M.set_enabled(on)
  state.enabled = on
  for bufnr in pairs(state.buffers) do
    backend.set_enabled(bufnr, on)
  end
end

--- The server became ready: ask for the current position (requests before that got nothing).
function M.on_ready()
  backend.on_ready(api.nvim_get_current_buf())
end

--- Ask for a suggestion at the cursor now, as an Invoked request (the trigger key).
function M.trigger(bufnr)
  backend.trigger(state.bufnr(bufnr))
end

--- Show the next (`delta` 1) or previous (-1) alternative. Without alternatives to cycle through (none
--- shown, or an Automatic request's single item), ask for them now with an Invoked request; when a
--- suggestion was shown, the answer opens one place on (its first item is the one shown).
function M.cycle(delta, bufnr)
  backend.cycle(state.bufnr(bufnr), delta)
end

--- Called from the keymaps (through <Cmd>, so the buffer may change).
function M.key(kind)
  if kind == 'dismiss' then
    M.dismiss()
  else
    M.accept(kind)
  end
end

--- Start ghost text in `bufnr` for `client`.
function M.attach(client, bufnr)
  if state.buffers[bufnr] then
    state.buffers[bufnr].client_id = client.id
    return
  end
  state.buffers[bufnr] = { client_id = client.id }
  api.nvim_clear_autocmds({ group = state.augroup, buffer = bufnr })
  backend.attach(bufnr)
  api.nvim_create_autocmd({ 'BufUnload', 'BufWipeout' }, {
    group = state.augroup,
    buffer = bufnr,
    callback = function()
      M.detach(bufnr)
    end,
  })
  keymaps.set(bufnr)
end

function M.detach(bufnr)
  if not state.buffers[bufnr] then
    return
  end
  backend.detach(bufnr)
  keymaps.forget(bufnr)
  state.buffers[bufnr] = nil
  pcall(api.nvim_clear_autocmds, { group = state.augroup, buffer = bufnr })
end

--- Internal state of `bufnr`, for tests and :InfillStatus.
function M.state(bufnr)
  return state.buffers[state.bufnr(bufnr)]
end

M._next_piece = insert.next_piece

return M
