-- Notes from the server (window/showMessage) and from the plugin, told without ever interrupting typing.
--
-- Neovim turns a message wider than the command line, or a second message before the next redraw, into
-- a "Press ENTER" prompt that swallows the next keystroke. So each note is shown once, on one line cut to
-- fit, at most one per event-loop turn; the full texts stay in `history` (:InfillStatus, :checkhealth).
local M = {}

---@type { level: integer, text: string }[] the last notes, oldest first
M.history = {}
local HISTORY = 20

local told = {} ---@type table<string, boolean> texts already shown (the same note can come by several routes)
local pending = nil ---@type { level: integer, text: string }|nil

--- `text` on one line that fits the free part of the command line.
local function one_line(text)
  text = vim.trim(text:gsub('%s*\n%s*', ' '))
  local room = math.max((vim.v.echospace or 80) - 1, 20)
  if vim.fn.strdisplaywidth(text) > room then
    text = vim.fn.strcharpart(text, 0, room - 1) .. '…'
  end
  return text
end

local function flush()
  local note = pending
  pending = nil
  if note then
    vim.notify(one_line(note.text), note.level)
  end
end

--- Record `text`, and show it unless it was shown before or `level` is below INFO.
---@param text string
---@param level integer vim.log.levels.*
function M.note(text, level)
  table.insert(M.history, { level = level, text = text })
  if #M.history > HISTORY then
    table.remove(M.history, 1)
  end
  if level < vim.log.levels.INFO or told[text] then
    return
  end
  told[text] = true
  if pending == nil then
    vim.schedule(flush)
  elseif pending.level > level then
    return -- one note per turn: the most severe one
  end
  pending = { level = level, text = text }
end

-- LSP MessageType (1 Error, 2 Warning, 3 Info, 4 Log) to vim.log.levels.
local LEVELS = { vim.log.levels.ERROR, vim.log.levels.WARN, vim.log.levels.INFO, vim.log.levels.DEBUG }

--- The `window/showMessage` handler: replaces Neovim's, which prompts.
function M.show_message(_, params, _)
  if type(params) == 'table' and type(params.message) == 'string' then
    M.note(params.message, LEVELS[params.type] or vim.log.levels.INFO)
  end
end

return M
