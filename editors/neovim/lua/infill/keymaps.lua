-- The Insert-mode keys of ghost text, per attached buffer: accept, accept a word or a line and dismiss act
-- while a suggestion is visible and otherwise do what the key did before (the user's own mapping, kept
-- when ours replaced a buffer-local one, or the key itself); trigger, next and prev always act.
-- setup() with other keys maps them again (remap).
local config = require('infill.config')

local api = vim.api
local M = {}

-- The ghost-text API the keys call. Required when a key is pressed: infill.ghost requires this module.
local function ghost()
  return require('infill.ghost')
end

-- Per mapped buffer, the user's buffer-local mapping each of our keys replaced (false: none).
---@type table<integer, table<string, table|false>>
local saved_by_buffer = {}

local function termcodes(keys)
  return api.nvim_replace_termcodes(keys, true, true, true)
end

-- The mapping `lhs` had in `bufnr` before ours (buffer-local), else the global one; nil when none.
local function user_mapping(lhs, saved)
  if saved then
    return saved
  end
  local raw = termcodes(lhs)
  for _, m in ipairs(api.nvim_get_keymap('i')) do
    if termcodes(m.lhs) == raw then
      return m
    end
  end
  return nil
end

-- Non-expr Lua callbacks of user mappings, run from <Cmd> (no textlock there).
local pending_callback = nil

function M._run_fallback()
  local fn = pending_callback
  pending_callback = nil
  if fn then
    fn()
  end
end

--- What `lhs` did before infill mapped it: the user's mapping (expr or not, buffer-local or global),
--- else the key itself. Called inside our <expr> mapping; returns the keys it evaluates to.
local function fallback(lhs, saved)
  local m = user_mapping(lhs, saved)
  if not m then
    return lhs
  end
  local raw = termcodes(lhs)
  local keys
  if m.expr == 1 then
    local ok, result
    if m.callback then
      ok, result = pcall(m.callback)
    else
      ok, result = pcall(vim.fn.eval, m.rhs)
    end
    if not ok or type(result) ~= 'string' then
      return ''
    end
    -- A Vim script expression gives keys as they are; a Lua callback usually gives key notation.
    keys = m.callback and termcodes(result) or result
  elseif m.callback then
    pending_callback = m.callback
    return "<Cmd>lua require('infill.keymaps')._run_fallback()<CR>"
  else
    keys = termcodes(m.rhs or '')
  end
  -- As Vim does: a {rhs} that starts with {lhs} does not map that {lhs} again.
  local noremap = m.noremap == 1 or keys:sub(1, #raw) == raw
  api.nvim_feedkeys(keys, noremap and 'ni' or 'mi', false)
  return ''
end

--- Map the keys of `config.options.keymaps` in `bufnr`.
function M.set(bufnr)
  local keys = config.options.keymaps
  saved_by_buffer[bufnr] = saved_by_buffer[bufnr] or {}
  local saved_maps = saved_by_buffer[bufnr]
  local actions = {
    { keys.accept, 'all', 'infill: accept the suggestion' },
    { keys.accept_word, 'word', 'infill: accept the next word' },
    { keys.accept_line, 'line', 'infill: accept the rest of the line' },
    { keys.dismiss, 'dismiss', 'infill: dismiss the suggestion' },
  }
  for _, a in ipairs(actions) do
    local lhs, kind, desc = a[1], a[2], a[3]
    if lhs then
      -- A buffer-local mapping of the user's is replaced by ours: keep it for the fall-back.
      local saved = saved_maps[lhs]
      if saved == nil then
        saved = api.nvim_buf_call(bufnr, function()
          return vim.fn.maparg(lhs, 'i', false, true)
        end)
        if not (type(saved) == 'table' and saved.buffer == 1) then
          saved = false
        end
        saved_maps[lhs] = saved
      end
      saved = saved or nil
      -- expr: act only while a suggestion is visible, otherwise the key does what it did before.
      vim.keymap.set('i', lhs, function()
        if ghost().visible(bufnr) then
          return string.format("<Cmd>lua require('infill.ghost').key('%s')<CR>", kind)
        end
        return fallback(lhs, saved)
      end, { buffer = bufnr, expr = true, silent = true, desc = desc })
    end
  end
  if keys.trigger then
    vim.keymap.set('i', keys.trigger, function()
      ghost().trigger(bufnr)
    end, { buffer = bufnr, silent = true, desc = 'infill: ask for a suggestion now' })
  end
  for _, c in ipairs({ { keys.next, 1, 'next' }, { keys.prev, -1, 'previous' } }) do
    if c[1] then
      vim.keymap.set('i', c[1], function()
        ghost().cycle(c[2], bufnr)
      end, { buffer = bufnr, silent = true, desc = 'infill: show the ' .. c[3] .. ' alternative' })
    end
  end
end

--- New keymaps from setup(): remove the ones made with `old` in every mapped buffer, then map again.
function M.remap(old)
  for bufnr in pairs(saved_by_buffer) do
    for _, lhs in pairs(old) do
      if lhs then
        pcall(vim.keymap.del, 'i', lhs, { buffer = bufnr })
      end
    end
    M.set(bufnr)
  end
end

--- `bufnr` is no longer attached: forget the user's mappings kept for it.
function M.forget(bufnr)
  saved_by_buffer[bufnr] = nil
end

return M
