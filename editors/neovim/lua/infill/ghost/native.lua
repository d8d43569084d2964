-- The native back end (Neovim 0.12+): vim.lsp.inline_completion asks, renders and accepts; this module
-- adapts the plugin's keys and API to it. Its state is private; the visible text is read from its extmark.
--
-- An infill.Backend (the functions every back end has: see infill.ghost).
local insert = require('infill.ghost.insert')
local state = require('infill.ghost.state')

local api = vim.api
local M = {}

--- Whether this Neovim has the native inline completion.
function M.available()
  return vim.lsp.inline_completion ~= nil and vim.lsp.inline_completion.enable ~= nil
end

local function native_ns()
  return api.nvim_get_namespaces()['nvim.lsp.inline_completion']
end

--- The text the native renderer shows in `bufnr`, or nil.
function M.suggestion(bufnr)
  local ns = native_ns()
  if not ns then
    return nil
  end
  local marks = api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })
  local details = marks[1] and marks[1][4]
  if not details then
    return nil
  end
  local function chunks(list)
    local parts = {}
    for _, chunk in ipairs(list or {}) do
      if chunk[2] ~= 'ComplHintMore' then -- the " (1/3)" counter
        table.insert(parts, chunk[1])
      end
    end
    return table.concat(parts)
  end
  local lines = { chunks(details.virt_text) }
  for _, vl in ipairs(details.virt_lines or {}) do
    table.insert(lines, chunks(vl))
  end
  local text = table.concat(lines, '\n')
  return text ~= '' and text or nil
end

function M.attach(bufnr)
  if state.enabled then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  end
end

function M.detach(_) end

function M.set_enabled(bufnr, on)
  pcall(vim.lsp.inline_completion.enable, on, { bufnr = bufnr })
end

-- vim.lsp.inline_completion asks by itself: nothing to do when the server becomes ready, nor on the
-- trigger key.
function M.on_ready(_) end

function M.trigger(_) end

--- Accept everything through vim.lsp.inline_completion.get(); a word or a line by inserting that piece
--- of the shown text.
function M.accept(bufnr, kind)
  if kind == 'all' then
    return vim.lsp.inline_completion.get({ bufnr = bufnr }) and true or false
  end
  local ghost = M.suggestion(bufnr)
  if not ghost then
    return false
  end
  local cur = state.cursor()
  insert.put(bufnr, { cur[1] - 1, cur[2], cur[1] - 1, cur[2] }, insert.next_piece(ghost, kind))
  return true
end

function M.dismiss(bufnr)
  -- No public dismiss in 0.12: switching the buffer off and on drops the current item.
  if M.suggestion(bufnr) then
    vim.lsp.inline_completion.enable(false, { bufnr = bufnr })
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  end
end

function M.cycle(bufnr, delta)
  if vim.lsp.inline_completion.select then
    vim.lsp.inline_completion.select({ bufnr = bufnr, count = delta })
  end
end

return M
