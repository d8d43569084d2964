-- `infill/didFocus` (docs/protocol.md): tell the server which document is active and where the cursor rests,
-- so that it can evaluate that file's prompt before the first keystroke (its KV state stays warm).
--
-- Sent on BufEnter (once Neovim has put the cursor back), FocusGained, CursorHold and CursorHoldI (after
-- 'updatetime' without a key), and when a buffer is attached while it is the current one; only for buffers
-- attached to the infill client, with the position in the client's offset encoding. The same document,
-- position and text are not sent twice in a row.
local client_mod = require('infill.client')
local position = require('infill.position')

local api = vim.api
local M = {}

M.EVENTS = { 'BufEnter', 'FocusGained', 'CursorHold', 'CursorHoldI' }

-- What the last notification said: { client_id, uri, line, character, tick }.
local last = nil

--- The `infill/didFocus` params for the cursor of the current window on `bufnr`, in `encoding`.
---@param bufnr integer
---@param encoding string
---@return table
function M.params(bufnr, encoding)
  local cur = api.nvim_win_get_cursor(0)
  return {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = position.lsp_position(bufnr, cur[1] - 1, cur[2], encoding),
  }
end

--- Send `infill/didFocus` for the current buffer when it is attached to the infill client.
--- Returns the params sent, or nil when nothing was sent.
---@return table|nil
function M.send()
  local bufnr = api.nvim_get_current_buf()
  local client = client_mod.get()
  if not client or not vim.lsp.buf_is_attached(bufnr, client.id) then
    return nil
  end
  local params = M.params(bufnr, client.offset_encoding or 'utf-16')
  local now = { client.id, params.textDocument.uri, params.position.line, params.position.character,
    api.nvim_buf_get_changedtick(bufnr) }
  if last and vim.deep_equal(last, now) then
    return nil
  end
  last = now
  client_mod.call(client, 'notify', 'infill/didFocus', params)
  return params
end

--- Forget what was sent last (a new client, or a test).
function M.reset()
  last = nil
end

--- Create the autocommands in `augroup` (setup() calls this; again on a second setup()).
---@param augroup integer
function M.setup(augroup)
  api.nvim_clear_autocmds({ group = augroup, event = M.EVENTS })
  api.nvim_create_autocmd(M.EVENTS, {
    group = augroup,
    pattern = '*',
    callback = function(ev)
      if ev.event == 'BufEnter' then
        -- Neovim puts the cursor back where it was in the buffer after BufEnter: sent now, the focus would say
        -- the top of the file (a warm-up of a prompt nobody asks for).
        vim.schedule(M.send)
      else
        M.send()
      end
    end,
  })
end

return M
